"""ledger.store.engine on real files: permissions, PRAGMAs, transactions, the fast path, readonly."""

from __future__ import annotations

import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger.store.engine import HEAD_REVISION, open_ledger, utcnow
from ledger.errors import SchemaError


def test_new_ledger_is_0600_wal_and_at_head(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ledger.db"
    engine = open_ledger(path)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD_REVISION
    engine.dispose()
    for f in tmp_path.joinpath("sub").iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f


def test_begin_takes_the_write_lock(tmp_path: Path) -> None:
    engine = open_ledger(tmp_path / "l.db")
    other = sqlite3.connect(tmp_path / "l.db", timeout=0, isolation_level=None)
    with engine.begin():
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("BEGIN IMMEDIATE")
    other.execute("BEGIN IMMEDIATE")
    other.execute("ROLLBACK")
    other.close()
    engine.dispose()


def test_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    open_ledger(path).dispose()
    code = (
        "import sys; from ledger.store.engine import open_ledger; open_ledger(sys.argv[1]).dispose();"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'wxc_sdk')))"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_revision_is_a_schema_error(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    engine = open_ledger(path)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    engine.dispose()
    with pytest.raises(SchemaError, match="newer ledger.*'9999'"):
        open_ledger(path)


def test_not_a_ledger(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.close()
    with pytest.raises(SchemaError, match="not a ledger"):
        open_ledger(other)
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all, not even close" * 100)
    with pytest.raises(SchemaError, match="not a usable SQLite ledger"):
        open_ledger(junk)


def test_readonly_reads_and_refuses_writes(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with pytest.raises(SchemaError, match="no ledger here yet"):
        open_ledger(path, readonly=True)
    assert not path.exists()
    open_ledger(path).dispose()
    ro = open_ledger(path, readonly=True)
    with ro.begin() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM ledger").scalar() == 0
        with pytest.raises(sa.exc.OperationalError, match="readonly"):
            conn.exec_driver_sql("DELETE FROM cooldowns")
    ro.dispose()


def test_readonly_sees_committed_rows_while_a_writer_is_open(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    rw = open_ledger(path)
    with rw.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO cooldowns (scope, paused_until, updated_at) VALUES ('webex', 1.0, 'x')"
        )
    ro = open_ledger(path, readonly=True)
    with rw.begin(), ro.connect() as conn:  # writer holds the write lock; the reader still reads
        assert conn.exec_driver_sql("SELECT count(*) FROM cooldowns").scalar() == 1
    ro.dispose()
    rw.dispose()


def test_utcnow_format() -> None:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", utcnow())


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    code = "import sys; from ledger.store.engine import open_ledger; open_ledger(sys.argv[1]).dispose()"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    engine = open_ledger(path, readonly=True)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").all() == [(HEAD_REVISION,)]
    engine.dispose()


def test_readonly_open_of_an_older_ledger_upgrades_it_first(tmp_path: Path) -> None:
    from ledger.store.engine import KNOWN_REVISIONS, make_engine, migrate

    path = tmp_path / "old.db"
    old = make_engine(path)
    migrate(old, KNOWN_REVISIONS[0])
    old.dispose()
    ro = open_ledger(path, readonly=True)
    with ro.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD_REVISION
    ro.dispose()


def test_readonly_open_of_an_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(SchemaError, match="empty file, no ledger here yet"):
        open_ledger(path, readonly=True)


def test_a_ledger_held_too_long_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import ledger.store.dialect as dialect
    import ledger.store.engine as eng
    from ledger.errors import LedgerError

    monkeypatch.setattr(dialect, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "l.db"
    engine = eng.open_ledger(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(LedgerError, match=r"l\.db: the ledger is busy: another ledger command held it"):
            with engine.begin() as conn:
                conn.exec_driver_sql("DELETE FROM cooldowns")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()
