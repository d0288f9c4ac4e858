"""The worker's per-row bookkeeping in groups (issue 14, "bookkeeping invisible against a fast server"):
the canonical ``row_outcome`` lines rendered together (``ledger.logsetup.info_many``) are the lines the
structlog pipeline writes one call at a time, redacted the same; a group of outcomes is written with a
constant number of SQL statements, whatever its size, still guarded by the claim."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog

from ledger.store import claims as store
from ledger.logsetup import configure_logging, info_many, log_path_for
from ledger.models import RowStatus
from ledger.store.claims import AttemptRecord, RowOutcome
from ledger.store.engine import open_ledger
from ledger.store import runs
from worker_support import import_users, query

TOKEN = "tok-row-lines-0123456789"


def _lines(db: Path) -> list[dict]:
    return [json.loads(line) for line in log_path_for(db).read_text().splitlines()]


def test_info_many_writes_the_pipelines_lines_redacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBEX_ACCESS_TOKEN", TOKEN)
    db = tmp_path / "ledger.db"
    configure_logging(db)
    log = structlog.get_logger("ledger.work.worker")
    rows = [
        {"row_id": 1, "status": "succeeded", "attempts": 1, "error": None, "http_status": None},
        {"row_id": 2, "status": "failed", "attempts": 3, "error": f"echoed {TOKEN} and Bearer abc.def",
         "http_status": 400},
        {"row_id": 3, "status": "failed", "attempts": 1, "error": "url ?access_token=zz9&x=1", "http_status": 502},
    ]
    structlog.contextvars.bind_contextvars(run_id=7)
    try:
        for fields in rows:
            log.info("row_outcome", **fields)
        info_many(log, "row_outcome", [dict(r) for r in rows])
    finally:
        structlog.contextvars.unbind_contextvars("run_id")
    lines = _lines(db)
    assert len(lines) == 6
    one_by_one, grouped = lines[:3], lines[3:]
    for a, b in zip(one_by_one, grouped):
        assert list(a) == list(b)  # same keys, same order
        assert {k: v for k, v in a.items() if k != "timestamp"} == {k: v for k, v in b.items() if k != "timestamp"}
    text = log_path_for(db).read_text()
    assert TOKEN not in text and "abc.def" not in text and "zz9" not in text
    assert grouped[1]["error"] == "echoed [REDACTED] and Bearer [REDACTED]"


def test_info_many_follows_another_configuration(tmp_path: Path) -> None:
    """Under ``capture_logs`` (or a console showing INFO) each event goes through structlog itself."""
    configure_logging(tmp_path / "ledger.db")
    log = structlog.get_logger("x")
    with structlog.testing.capture_logs() as seen:
        info_many(log, "row_outcome", [{"row_id": 1}, {"row_id": 2}])
    assert [e["row_id"] for e in seen] == [1, 2]
    configure_logging(tmp_path / "verbose.db", console_level=logging.INFO, stream=open(os.devnull, "w"))
    info_many(log, "row_outcome", [{"row_id": 3}])
    assert [e["row_id"] for e in _lines(tmp_path / "verbose.db")] == [3]


def test_a_group_of_outcomes_costs_a_constant_number_of_statements(ledger_path: Path, tmp_path: Path) -> None:
    import_users(ledger_path, tmp_path, 60)
    engine = open_ledger(ledger_path)
    run = runs.create_run(engine, pid=os.getpid(), host="h", import_id=None, batch_size=60, concurrency=1,
                          retry_profile="default", dry_run=False)
    other = runs.create_run(engine, pid=os.getpid(), host="h", import_id=None, batch_size=60, concurrency=1,
                            retry_profile="default", dry_run=False)
    rows = store.claim_batch(engine, run, 50).rows
    theirs = store.claim_batch(engine, other, 5).rows
    att = (AttemptRecord(1, "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "succeeded"),)
    outcomes = [RowOutcome(r.row_id, RowStatus.SUCCEEDED, att, result={"person_id": f"p{r.row_id}"}) for r in rows[:40]]
    outcomes += [RowOutcome(r.row_id, RowStatus.PENDING, att, error_kind="transient") for r in rows[40:]]
    outcomes += [RowOutcome(r.row_id, RowStatus.SUCCEEDED, att) for r in theirs]  # not this run's claims
    seen: list[str] = []

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _record(conn, cursor, statement, *args):  # noqa: ANN001
        seen.append(statement)

    res = store.record_outcomes(engine, run, outcomes)
    sa.event.remove(engine, "before_cursor_execute", _record)
    engine.dispose()
    assert res.written == 50 and sorted(res.lost) == sorted(r.row_id for r in theirs)
    writes = [s for s in seen if s.lstrip().startswith(("UPDATE", "INSERT", "SELECT"))]
    assert len(writes) <= 4, writes  # the guard, one executemany per kind of update, the attempts
    got = {r.status: r.n for r in query(ledger_path, "SELECT status, count(*) AS n FROM ledger GROUP BY status")}
    assert got == {"succeeded": 40, "pending": 15, "running": 5}
    n_att = query(ledger_path, "SELECT count(*) AS n FROM attempts")[0].n
    assert n_att == 50  # none for the lost outcomes
    assert query(ledger_path, "SELECT result FROM ledger WHERE id = :i", i=rows[0].row_id)[0].result == \
        json.dumps({"person_id": f"p{rows[0].row_id}"})
