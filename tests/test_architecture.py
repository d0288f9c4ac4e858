"""Import boundaries, enforced by walking every module's imports with ``ast``.

Rules are on package prefixes, so a new module inside a package is covered without editing this file.

- The engine (everything in ``ledger/`` but ``actions/``, ``sandbox/``, ``demo/``, ``cli.py``) never
  imports ``wxc_sdk``, ``ledger.actions``, ``ledger.sandbox`` or ``ledger.demo``.
- The actions never import ``sqlalchemy``, ``alembic``, ``click``, ``ledger.store``, ``ledger.importing``,
  ``ledger.reporting`` or any of ``ledger.work`` but its ports (``ledger.work.ports``, the seam they
  implement).
- SQL lives in ``ledger/store/``: elsewhere ``sqlalchemy`` may only be named in type annotations
  (``sa.Engine``, ``sa.Connection``), never used to build or run a statement.
- ``ledger/cli.py`` imports nothing heavy at module level (wxc_sdk, sqlalchemy, alembic, structlog,
  the sandbox, the worker), so `ledger import` starts fast.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "ledger"
TYPE_NAMES = {"Engine", "Connection", "Row", "RowMapping", "Result", "CursorResult"}


def _rel(path: Path) -> str:
    try:
        return path.relative_to(PKG.parent).as_posix()
    except ValueError:
        return path.name


def _modules() -> list[Path]:
    return sorted(p for p in PKG.rglob("*.py"))


def _imports(tree: ast.AST, *, top_level_only: bool = False) -> list[tuple[str, int]]:
    nodes = tree.body if top_level_only and isinstance(tree, ast.Module) else list(ast.walk(tree))
    out: list[tuple[str, int]] = []
    for node in nodes:
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(node.module, node.lineno)] + [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
    return out


def _is_engine(path: Path) -> bool:
    rel = _rel(path)
    return not (
        rel.startswith(("ledger/actions/", "ledger/sandbox/", "ledger/demo/"))
        or rel in {"ledger/cli.py", "ledger/__main__.py"}
    )


def _is_sql_home(path: Path) -> bool:
    rel = _rel(path)
    return rel.startswith("ledger/store/")


def _starts(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _violations(paths: list[Path], banned: tuple[str, ...]) -> list[str]:
    out = []
    for path in paths:
        for name, line in _imports(ast.parse(path.read_text(), str(path))):
            if _starts(name, banned):
                out.append(f"{_rel(path)}:{line} imports {name}")
    return out


def test_engine_never_imports_webex_or_actions() -> None:
    engine = [p for p in _modules() if _is_engine(p)]
    assert len(engine) > 10
    assert _violations(engine, ("wxc_sdk", "ledger.actions", "ledger.sandbox", "ledger.demo")) == []


def test_actions_never_import_the_database_or_click() -> None:
    actions = sorted((PKG / "actions").rglob("*.py"))
    assert actions
    banned = ("sqlalchemy", "alembic", "click", "ledger.store", "ledger.importing", "ledger.reporting", "ledger.work")
    found = [v for v in _violations(actions, banned) if not _starts(v.rsplit(" ", 1)[1], ("ledger.work.ports",))]
    assert found == []


def test_the_prefix_rule_catches_engine_internals(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("from ledger.work.rows import RowRunner\nfrom ledger.work import gate\nfrom ledger.work.ports import X\n")
    banned = ("ledger.work",)
    assert [v.split(" ", 1)[1] for v in _violations([probe], banned)] == [
        "imports ledger.work.rows", "imports ledger.work.rows.RowRunner", "imports ledger.work",
        "imports ledger.work.gate", "imports ledger.work.ports", "imports ledger.work.ports.X",
    ]


def _sqlalchemy_uses(path: Path) -> list[str]:
    """Uses of sqlalchemy other than naming a type in an annotation."""
    tree = ast.parse(path.read_text(), str(path))
    aliases: set[str] = set()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {a.asname or a.name for a in node.names if _starts(a.name, ("sqlalchemy",))}
        elif isinstance(node, ast.ImportFrom) and node.module and _starts(node.module, ("sqlalchemy",)):
            out += [f"{_rel(path)}:{node.lineno} from {node.module} import {a.name}" for a in node.names if a.name not in TYPE_NAMES]
    annotations: set[int] = set()
    for node in ast.walk(tree):
        for ann in _annotation_nodes(node):
            annotations |= {id(n) for n in ast.walk(ann)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            if id(node) not in annotations or node.attr not in TYPE_NAMES:
                out.append(f"{_rel(path)}:{node.lineno} uses {node.value.id}.{node.attr}")
        if isinstance(node, ast.Attribute) and node.attr == "exec_driver_sql":
            out.append(f"{_rel(path)}:{node.lineno} runs SQL (exec_driver_sql)")
    return out


def _annotation_nodes(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
        return [node.annotation]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns is not None:
        return [node.returns]
    return []


def test_sql_only_in_the_store() -> None:
    others = [p for p in _modules() if not _is_sql_home(p) and not _rel(p).startswith("ledger/sandbox/")]
    found = [v for p in others for v in _sqlalchemy_uses(p)]
    assert found == []


def test_the_checker_catches_sql_outside_the_store(tmp_path: Path) -> None:
    bad = tmp_path / "probe.py"
    bad.write_text(
        "import sqlalchemy as sa\nfrom sqlalchemy import text\n\n"
        "def f(e: sa.Engine) -> sa.Connection:\n    sa.select(1)\n    e.exec_driver_sql('x')\n"
    )
    assert [v.split(" ", 1)[1] for v in _sqlalchemy_uses(bad)] == [
        "from sqlalchemy import text", "uses sa.select", "runs SQL (exec_driver_sql)",
    ]


@pytest.mark.parametrize("heavy", ["wxc_sdk", "sqlalchemy", "alembic", "structlog", "ledger.sandbox", "ledger.work.worker", "ledger.work.run", "ledger.actions", "ledger.store"])
def test_cli_module_level_stays_light(heavy: str) -> None:
    tree = ast.parse((PKG / "cli.py").read_text())
    assert [n for n, _ in _imports(tree, top_level_only=True) if _starts(n, (heavy,))] == []


def test_every_module_has_future_annotations() -> None:
    missing = []
    for path in _modules():
        tree = ast.parse(path.read_text())
        if tree.body and not any(
            isinstance(n, ast.ImportFrom) and n.module == "__future__" and any(a.name == "annotations" for a in n.names)
            for n in tree.body
        ):
            missing.append(_rel(path))
    assert missing == []


def test_no_table_is_named_like_the_package() -> None:
    """Issue 15: the `ledger` table was imported as `ledger`, shadowing the package's own name."""
    from ledger.store import schema

    assert not hasattr(schema, "ledger") and schema.ledger_rows.name == "ledger"


_SQLITE_TEXT = ("PRAGMA ", "sqlite_master", "BEGIN IMMEDIATE", "mode=ro")


def _sqlite_specifics(path: Path) -> list[str]:
    """What only SQLite understands, in code (docstrings and comments are prose, not code)."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }
    out = [f"{_rel(path)}:{line} imports {name}" for name, line in _imports(tree)
           if _starts(name, ("sqlite3", "sqlalchemy.dialects.sqlite"))]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("exec_driver_sql", "driver_connection", "raw_connection"):
            out.append(f"{_rel(path)}:{node.lineno} uses {node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            out += [f"{_rel(path)}:{node.lineno} says {t!r}" for t in _SQLITE_TEXT if t in node.value]
    return out


def test_sqlite_specifics_only_in_the_dialect_module() -> None:
    """Issue 15: PRAGMAs, BEGIN IMMEDIATE, the read-only URI, sqlite_master, exec_driver_sql and the
    sqlite dialect live in ledger/store/dialect.py alone (a PostgreSQL ledger: one module beside it)."""
    others = [p for p in _modules() if _rel(p) != "ledger/store/dialect.py" and not _rel(p).startswith("ledger/sandbox/")]
    assert [v for p in others for v in _sqlite_specifics(p)] == []
    assert _sqlite_specifics(PKG / "store" / "dialect.py")  # the checker sees them where they are
