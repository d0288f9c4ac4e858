"""The migrations produce exactly the schema the code declares (ledger.store.schema)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ledger.store import schema
from ledger.store.engine import KNOWN_REVISIONS, make_engine, migrate, migrations_dir, open_ledger

ROOT = Path(__file__).resolve().parents[1]


def _cfg() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    return cfg


def _squash(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip()


def test_known_revisions_match_the_scripts() -> None:
    script = ScriptDirectory.from_config(_cfg())
    revs = [r.revision for r in reversed(list(script.walk_revisions()))]
    assert tuple(revs) == KNOWN_REVISIONS
    assert script.get_current_head() == KNOWN_REVISIONS[-1]


def test_upgrade_head_equals_metadata(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "l.db")
    migrate(engine)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(ctx, schema.metadata) == []
        assert ctx.get_current_revision() == KNOWN_REVISIONS[-1]
        views = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'view'").all())
    assert {k: _squash(v) for k, v in views.items()} == {k: _squash(v) for k, v in schema.VIEWS.items()}
    # alembic check: autogenerate finds nothing to do
    cfg = _cfg()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.check(cfg)
    engine.dispose()


def test_downgrade_base_then_upgrade(tmp_path: Path) -> None:
    engine = make_engine(tmp_path / "l.db")
    migrate(engine)
    cfg = _cfg()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "base")
    assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}
    migrate(engine)
    assert set(schema.metadata.tables) <= set(sa.inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.parametrize("how", ["-x", "env"])
def test_alembic_by_hand(tmp_path: Path, how: str) -> None:
    import os

    db = tmp_path / "hand.db"
    args = ["-x", f"db={db}"] if how == "-x" else []
    env = {**os.environ, "LEDGER_DB": str(db)} if how == "env" else None
    subprocess.run(
        [str(ROOT / ".venv/bin/alembic"), "-c", str(ROOT / "alembic.ini"), *args, "upgrade", "head"],
        check=True,
        capture_output=True,
        cwd=tmp_path,
        env=env,
    )
    engine = make_engine(db)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == KNOWN_REVISIONS[-1]
    engine.dispose()


@pytest.mark.parametrize("by_hand", [False, True])
def test_upgrade_from_0001_keeps_rows(tmp_path: Path, by_hand: bool) -> None:
    """A populated ledger at the first revision upgrades in place (batch rebuild, FKs, the view),
    from code (open_ledger) and by hand (alembic upgrade head)."""
    path = tmp_path / "old.db"
    engine = make_engine(path)
    migrate(engine, "0001")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO imports (id, path, sha256, action, created_at) VALUES (1, 'u.csv', 'abc', 'user.create', 'x')"
        )
        conn.exec_driver_sql(
            "INSERT INTO ledger (import_id, line_no, action, status, error_kind, error_message, payload,"
            " created_at, updated_at) VALUES (1, 2, 'user.create', 'invalid', 'invalid', 'bad', '{}', 'x', 'x')"
        )
    engine.dispose()
    if by_hand:
        subprocess.run(
            [str(ROOT / ".venv/bin/alembic"), "-c", str(ROOT / "alembic.ini"), "-x", f"db={path}", "upgrade", "head"],
            check=True, capture_output=True, cwd=tmp_path,
        )
    engine = open_ledger(path)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == KNOWN_REVISIONS[-1]
        assert conn.exec_driver_sql("SELECT file, line_no FROM failed_rows").all() == [("u.csv", 2)]
        assert conn.exec_driver_sql("SELECT profile_sha256 FROM imports").scalar() is None
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_upgrade_0002_to_0003_keeps_rows_and_their_by_location_chains(tmp_path: Path) -> None:
    """Rev 0003 (entity chains): existing rows keep their data, get site_key from location_key, and
    existing --after dependencies keep matching by location (match = 'site'); the new statuses are allowed."""
    engine = make_engine(tmp_path / "old.db")
    migrate(engine, "0002")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO imports (id, path, sha256, action, created_at) VALUES (1, 'p', 's', 'location.pstn', 't'), (2, 'q', 's', 'user.create', 't')")
        conn.exec_driver_sql("INSERT INTO import_deps VALUES (2, 1)")
        conn.exec_driver_sql(
            "INSERT INTO ledger (import_id, line_no, action, status, payload, location_key, created_at, updated_at) "
            "VALUES (1, 2, 'location.pstn', 'failed', '{}', 'Madrid', 't', 't'), (2, 2, 'user.create', 'pending', '{}', 'Madrid', 't', 't')"
        )
    migrate(engine)
    with engine.begin() as conn:
        assert conn.exec_driver_sql("SELECT site_key, entity_key FROM ledger ORDER BY id").all() == [("site:madrid", None)] * 2
        assert conn.exec_driver_sql("SELECT * FROM import_deps").all() == [(2, 1, "site")]
        conn.exec_driver_sql("UPDATE ledger SET status = 'blocked' WHERE id = 2")
        assert conn.exec_driver_sql("SELECT row_id FROM blocked_rows").all() == [(2,)]
        with pytest.raises(sa.exc.IntegrityError):
            conn.exec_driver_sql("UPDATE ledger SET status = 'lost' WHERE id = 2")
    engine.dispose()


def _schema_of(path: Path) -> dict[str, str]:
    """Every table, index and view of the file, by name, as SQLite stores its SQL (whitespace squashed)."""
    engine = make_engine(path)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").all()
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    finally:
        engine.dispose()
    return {"version": str(version), **{f"{t} {n}": _squash(sql or "") for t, n, sql in rows}}


def test_a_new_ledger_created_from_the_schema_equals_one_built_by_every_migration(tmp_path: Path) -> None:
    """open_ledger creates a new file from ledger.store.schema and stamps it (no migration runs); an old
    file is upgraded by the migrations: both must end with the same tables, indexes, views and revision."""
    migrated = make_engine(tmp_path / "migrated.db")
    migrate(migrated)
    migrated.dispose()
    open_ledger(tmp_path / "created.db").dispose()

    created, built = _schema_of(tmp_path / "created.db"), _schema_of(tmp_path / "migrated.db")
    assert created["version"] == KNOWN_REVISIONS[-1]
    assert set(created) == set(built)
    for key in sorted(k for k in created if k.startswith(("index", "view"))):
        assert created[key] == built[key], key
    engine = make_engine(tmp_path / "created.db")
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        assert compare_metadata(ctx, schema.metadata) == []
    engine.dispose()
