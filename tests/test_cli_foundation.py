"""CLI foundation: `actions`, help and README, logging (file, redaction), light imports."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import structlog
from click.testing import Result

from ledger import logsetup
from ledger.cli import cli as cli_group
from ledger.actions import REGISTRY
from ledger.reporting.action_docs import actions_markdown

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
COMMANDS = tuple(sorted(cli_group.commands))  # every command of the CLI, as click registered it


# --- actions, help, README ------------------------------------------------------------------------


def test_actions_lists_every_action_alias_and_required_column(run_cli: Callable[..., Result]) -> None:
    result = run_cli("actions")
    assert result.exit_code == 0
    out = result.stdout
    for spec in REGISTRY.specs:
        assert re.search(rf"^{re.escape(spec.name)}  — ", out, re.M), spec.name
        for alias in spec.aliases:
            assert alias in out
        for col in spec.columns:
            mark = r"\*" if col.required else " "
            assert re.search(rf"^  {mark} {re.escape(col.name)}\b", out, re.M), (spec.name, col.name)


ACTIONS_BLOCK = re.compile(r"(<!-- actions:begin -->\n)(.*?)(<!-- actions:end -->)", re.S)


def update_readme() -> bool:
    """Rewrite the README's generated action block; True when it changed.
    Run ``.venv/bin/python tests/test_cli_foundation.py`` after changing an action's declaration."""
    text = README.read_text(encoding="utf-8")
    new = ACTIONS_BLOCK.sub(lambda m: m.group(1) + actions_markdown(REGISTRY) + m.group(3), text)
    if new != text:
        README.write_text(new, encoding="utf-8")
    return new != text


def test_readme_actions_block_is_generated_from_the_code() -> None:
    m = ACTIONS_BLOCK.search(README.read_text(encoding="utf-8"))
    assert m, "README lacks the actions markers"
    assert m.group(2) == actions_markdown(REGISTRY), (
        "the README's action table is out of date: run `.venv/bin/python tests/test_cli_foundation.py`"
    )


def test_actions_for_one_name_or_alias(run_cli: Callable[..., Result]) -> None:
    out = run_cli("actions", "usuarios_modificar_licencias").stdout
    assert out.startswith("user.licenses  — ") and "user.create" not in out
    bad = run_cli("actions", "nope")
    assert bad.exit_code == 2 and "unknown action 'nope'" in bad.stderr


def test_actions_markdown_has_one_table_per_action() -> None:
    md = actions_markdown(REGISTRY)
    assert md.count("| column | type | required | default | help |") == len(REGISTRY.specs)
    assert "| `email` | email | yes |  | the new user's email (business key) |" in md


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_and_is_in_the_readme(run_cli: Callable[..., Result], command: str) -> None:
    result = run_cli(command, "--help")
    assert result.exit_code == 0
    assert re.match(rf"Usage: \S+ {command} ", result.stdout)
    assert len(result.stdout.splitlines()) > 4  # a description and options, not just usage
    assert f"ledger {command}" in README.read_text(encoding="utf-8")


def test_readme_has_the_contract_sections() -> None:
    text = README.read_text(encoding="utf-8")
    for heading in ("## Ledger tables", "## Importing", "## Exit codes", "## Actions"):
        assert heading in text
    assert 'sqlite3 -header -column ledger.db "SELECT * FROM failed_rows"' in text


def test_group_help_documents_exit_codes(run_cli: Callable[..., Result]) -> None:
    out = run_cli("--help").stdout
    for code in ("0  every claimable row", "1  other fatal error", "2  usage error", "3  FAILED_SYSTEMIC", "4  interrupted"):
        assert code in out


def test_release_rejects_a_bad_duration(run_cli: Callable[..., Result]) -> None:
    result = run_cli("release", "--older-than", "soon")
    assert result.exit_code == 2
    assert "not a duration: 'soon'" in result.stderr


# --- light imports (whole processes) ----------------------------------------------------------------


def _modules_after(argv: list[str]) -> tuple[int, list[str], str]:
    code = (
        "import sys\n"
        "from ledger.cli import cli\n"
        "try:\n"
        "    cli.main(sys.argv[1:], prog_name='ledger', standalone_mode=False)\n"
        "    rc = 0\n"
        "except SystemExit as e:\n"
        "    rc = e.code or 0\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('wxc_sdk', 'alembic', 'aiohttp', 'requests')})\n"
        "print('MODULES', rc, ','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60)
    line = [x for x in proc.stdout.splitlines() if x.startswith("MODULES")][-1].split(" ")
    return int(line[1]), [m for m in (line[2] if len(line) > 2 else "").split(",") if m], proc.stderr


def test_import_report_status_never_load_webex_or_alembic(tmp_path: Path, ledger_path: Path) -> None:
    f = tmp_path / "u.csv"
    f.write_text("email,first_name,last_name\na@x.com,A,B\n", encoding="utf-8")
    db = ["--db", str(ledger_path)]
    for argv in (
        [*db, "import", str(f), "--action", "user.create"],
        [*db, "report", "--out", str(tmp_path / "r")],
        [*db, "status"],
        [*db, "retry"],
        [*db, "actions"],
    ):
        rc, heavy, err = _modules_after(argv)
        assert (rc, heavy) == (0, []), (argv, err)


# --- logging ----------------------------------------------------------------------------------------


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    secret = "NjM0ZmE1YzUtc2VjcmV0LXRva2VuLXZhbHVl_abc"
    monkeypatch.setenv("WEBEX_ACCESS_TOKEN", secret)
    return secret


@pytest.fixture
def log_setup(tmp_path: Path) -> tuple[Path, io.StringIO]:
    stream = io.StringIO()
    logsetup.configure_logging(tmp_path / "ledger.db", stream=stream)
    yield tmp_path / "ledger.log", stream
    structlog.reset_defaults()


def test_redact_text(token: str) -> None:
    text = f"GET /v1/people?access_token={token} Authorization: Bearer {token}x, also bearer abc.def-1"
    out = logsetup.redact(text)
    assert token not in out
    assert out == (
        "GET /v1/people?access_token=[REDACTED] Authorization: Bearer [REDACTED], also bearer [REDACTED]"
    )
    assert logsetup.redact("nothing secret, tracking_id ROUTER_123") == "nothing secret, tracking_id ROUTER_123"


def test_log_file_is_json_lines_0600_and_redacted(token: str, log_setup: tuple[Path, io.StringIO]) -> None:
    path, stream = log_setup
    log = structlog.get_logger()
    structlog.contextvars.bind_contextvars(run_id=7)
    try:
        log.info(
            "row_done", row_id=3, tracking_id="T1",
            request={"headers": {"Authorization": f"Bearer {token}", "Accept": "json"}},
            note=f"sent with {token}", items=[f"Bearer {token}"],
        )
        log.warning("slow_down", token=token, retry_after=2)
    finally:
        structlog.contextvars.clear_contextvars()
    raw = path.read_text(encoding="utf-8")
    assert token not in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first, second = (json.loads(line) for line in raw.splitlines())
    assert first["event"] == "row_done" and first["run_id"] == 7 and first["level"] == "info"
    assert first["tracking_id"] == "T1"
    assert first["request"] == {"headers": {"Authorization": "[REDACTED]", "Accept": "json"}}
    assert first["note"] == "sent with [REDACTED]" and first["items"] == ["Bearer [REDACTED]"]
    assert second["token"] == "[REDACTED]"
    console = stream.getvalue()
    assert "row_done" not in console  # info stays in the file
    assert json.loads(console.strip())["event"] == "slow_down"  # not a TTY: JSON lines
    assert token not in console


def test_exception_tracebacks_are_text_and_redacted(token: str, log_setup: tuple[Path, io.StringIO]) -> None:
    path, _ = log_setup
    try:
        raise RuntimeError(f"401 for Bearer {token}")
    except RuntimeError:
        structlog.get_logger().exception("boom")
    record = json.loads(path.read_text().splitlines()[-1])
    assert isinstance(record["exception"], str) and "RuntimeError" in record["exception"]
    assert token not in record["exception"]


def test_cli_import_logs_a_canonical_line(tmp_path: Path, run_cli: Callable[..., Result], ledger_path: Path) -> None:
    f = tmp_path / "u.csv"
    f.write_text("email,first_name,last_name\na@x.com,A,B\n", encoding="utf-8")
    try:
        assert run_cli("import", str(f), "--action", "user.create").exit_code == 0
    finally:
        structlog.reset_defaults()
    log_file = ledger_path.with_suffix(".log")
    events = [json.loads(line) for line in log_file.read_text().splitlines()]
    done = [e for e in events if e["event"] == "import_finished"]
    assert done and done[-1]["rows"] == 1 and done[-1]["action"] == "user.create"
    assert stat.S_IMODE(os.stat(log_file).st_mode) == 0o600


if __name__ == "__main__":
    print("README action table " + ("updated" if update_readme() else "already up to date"))


def test_console_follows_the_current_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Configured while stderr was a (later closed) CliRunner stream, logging still works afterwards."""
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    logsetup.configure_logging(tmp_path / "ledger.db")
    first.close()
    monkeypatch.setattr(sys, "stderr", second)
    try:
        structlog.get_logger().warning("still_fine", n=1)
    finally:
        structlog.reset_defaults()
    assert json.loads(second.getvalue())["event"] == "still_fine"


def test_objects_rendered_by_repr_are_redacted(token: str, log_setup: tuple[Path, io.StringIO]) -> None:
    path, stream = log_setup

    class Session:
        def __repr__(self) -> str:
            return f"Session(auth='Bearer {token}', token={token})"

    from typing import NamedTuple

    class Pair(NamedTuple):
        a: str
        b: str

    structlog.get_logger().error("leaky", session=Session(), pair=Pair("x", f"Bearer {token}"))
    for text in (path.read_text(), stream.getvalue()):
        assert token not in text
        assert "leaky" in text
    assert json.loads(path.read_text().splitlines()[-1])["pair"] == ["x", "Bearer [REDACTED]"]


@pytest.mark.slow(minutes=0.3)  # a 210,000-row child process / the benchmark script: not in `make check`
def test_import_bench_runs(tmp_path: Path) -> None:
    """The benchmark script stays runnable (tiny size; prints its table; no timing asserted)."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "import_bench.py"), "--rows", "300", "--repeat", "1"],
        capture_output=True, text=True, timeout=300, check=True,
    ).stdout
    lines = out.splitlines()
    assert lines[0].split() == ["rows", "case", "best", "s", "×", "floor", "peak", "RSS", "MB"]
    cases = ("floor: csv + sqlite3", "ledger import (new ledger)", "ledger import (existing ledger)")
    assert [case in line for case, line in zip(cases, lines[1:4], strict=True)] == [True, True, True]
    assert lines[1].split()[-2] == "1.00×"
    assert all(float(line.split()[-1]) > 0 for line in lines[1:4])  # peak RSS measured per child


def test_readme_table_contract_matches_the_schema(engine: object) -> None:
    """The README's `## Ledger tables` lists exactly the columns of each table and of the view."""
    import sqlalchemy as sa

    from ledger.store import schema

    text = README.read_text(encoding="utf-8").split("## Ledger tables", 1)[1].split("\n## ", 1)[0]
    documented = {}
    for m in re.finditer(r"^\| `(\w+)`(?: \(view\))? \| [^|]+ \| `([^|]+)` \|$", text, re.M):
        documented[m.group(1)] = [c.strip() for c in m.group(2).split(",")]
    expected = {t: [c.name for c in schema.metadata.tables[t].columns] for t in ("imports", "ledger", "attempts", "runs")}
    assert {t: documented.get(t) for t in expected} == expected
    with engine.connect() as conn:  # type: ignore[attr-defined]
        view_cols = list(conn.execute(sa.text("SELECT * FROM failed_rows LIMIT 0")).keys())
    assert documented["failed_rows"] == view_cols


def _open_files(path: Path) -> int:
    fds = Path("/proc/self/fd")
    n = 0
    for fd in fds.iterdir():
        try:
            n += Path(os.readlink(fd)).name.startswith(path.name)
        except OSError:
            pass
    return n


def test_commands_dispose_of_their_ledger(ledger_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    """Issue 15: the CLI never disposed of its engines; now each command's engine is a context resource."""
    import gc

    gc.disable()  # what is left open must not depend on when the garbage collector runs
    try:
        before = _open_files(ledger_path)
        for args in (["status"], ["retry"], ["release"]):
            assert run_cli(*args).exit_code == 0
        assert _open_files(ledger_path) == before
    finally:
        gc.enable()


def test_the_webex_base_url_has_one_default() -> None:
    """Issue 15: cli.py repeated DEFAULT_BASE_URL; `ledger work` now builds its executors from the environment."""
    from ledger.actions.client import DEFAULT_BASE_URL
    from ledger.actions.runtime import WebexExecutors

    assert WebexExecutors.from_env({"WEBEX_ACCESS_TOKEN": " t "}).base_url == DEFAULT_BASE_URL
    assert WebexExecutors.from_env({"WEBEX_ACCESS_TOKEN": "t", "WEBEX_BASE_URL": "http://127.0.0.1:9/v1"}).base_url == (
        "http://127.0.0.1:9/v1"
    )
    assert "webexapis.com" not in (ROOT / "ledger" / "cli.py").read_text(encoding="utf-8")


def test_the_readme_names_code_that_exists() -> None:
    """Issue 15: the README credited `ledger.report.actions_markdown` (it had moved). Every dotted name of
    three parts or more (`ledger.pkg.module[.attr]`; two parts are table columns) must resolve."""
    import importlib

    names = set(re.findall(r"`(ledger(?:\.\w+){2,})`", README.read_text(encoding="utf-8")))
    assert names
    missing = []
    for name in sorted(names):
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                obj: object = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            for attr in parts[cut:]:
                obj = getattr(obj, attr, None)
            if obj is None:
                missing.append(name)
            break
    assert missing == []


def _readme_commands() -> list[str]:
    """Every `ledger …` command the README shows: in backticks, or a line of a code block."""
    text = README.read_text(encoding="utf-8")
    found = [part.strip() for m in re.findall(r"`(ledger [^`]+)`", text) for part in m.split("&&")]
    for block in re.findall(r"^```(?:sh|)\n(.*?)^```", text, re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            found.extend(part.strip() for part in line.split("&&") if part.strip().startswith("ledger "))
    return found


def _command_and_options(words: list[str]) -> tuple[list[str], set[str]]:
    """The (sub)command path the words name and the options it (and the group) accept."""
    import click

    command: click.Command = cli_group
    path: list[str] = []
    opts = {o for p in cli_group.params for o in (*p.opts, *p.secondary_opts)} | {"--help"}
    for word in words:
        if not re.fullmatch(r"[a-z][\w-]*", word) or not isinstance(command, click.Group):
            continue  # an option, or a value such as ledger.db, FILE, …
        if word not in command.commands:
            break
        command = command.commands[word]
        path.append(word)
        opts |= {o for p in command.params for o in (*p.opts, *p.secondary_opts)}
    return path, opts


def test_every_readme_command_and_option_exists() -> None:
    """Every `ledger VERB [SUB] --option` the README shows is a command of the CLI with that option
    (a renamed verb or a dropped option would otherwise stay documented)."""
    commands = _readme_commands()
    assert len(commands) > 40
    wrong = []
    for cmd in commands:
        words = cmd.split("#", 1)[0].split()[1:]
        words = [w for w in words if not w.startswith("[") or w.startswith("[--")]
        words = [w.strip("[]|") for w in words]
        if not words or not re.fullmatch(r"[a-z][\w-]*|--?[\w-]+", words[0]):
            continue  # prose such as "`ledger` runs as …" is not a command line
        path, opts = _command_and_options([w for w in words if not w.startswith("-") or w.startswith("--")])
        if not path and not words[0].startswith("-"):
            wrong.append(f"{cmd!r}: no such command")
            continue
        wrong += [f"{cmd!r}: {o}" for o in re.findall(r"(?<![\w-])--[a-z][\w-]*", cmd.split("#", 1)[0]) if o not in opts]
    assert wrong == []


def test_readme_paths_and_make_targets_exist() -> None:
    """Files the README names (`ledger/…`, `tests/…`, `tools/…`, `bench/…`, `migrations/…`) exist, and
    every `make TARGET` is a target of the Makefile."""
    text = README.read_text(encoding="utf-8")
    generated = {"bench/out/results.json"}  # written by `make bench`
    paths = set(re.findall(r"(?<![\w/.-])((?:ledger|tests|tools|bench|migrations)/[\w./-]*\w)", text)) - generated
    assert len(paths) > 10
    assert sorted(p for p in paths if not (ROOT / p).exists()) == []
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"\bmake ([a-z][\w-]*)", text))
    assert targets >= {"demo", "test", "check"}
    assert sorted(t for t in targets if not re.search(rf"^{t}:", makefile, re.M)) == []
