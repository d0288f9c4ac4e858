"""Group commits (issue 14): outcomes share transactions and fsyncs, claims never do.

The rule: a row's claim is on disk (its own ``synchronous=FULL`` commit) before any request for it; its
outcome may wait for a group and is committed with ``synchronous=NORMAL``, made durable by the next FULL
commit. The statements SQLite receives are recorded with a SQLAlchemy event on the worker's engine.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from ledger.actions import get_spec
from ledger.importing.importer import import_file
from ledger.settings import WorkSettings
from ledger.store.engine import open_ledger
from ledger.work.ports import ActionResult, RowInput
from ledger.work.worker import Worker
from worker_support import statuses, write_users


def test_outcomes_are_grouped_and_share_the_claims_fsync(ledger_path: Path, tmp_path: Path) -> None:
    src = tmp_path / "u.csv"
    write_users(src, 300)
    engine = open_ledger(ledger_path)
    import_file(engine, get_spec("user.create"), src)
    spec = get_spec("user.create")
    seen: list[str] = []

    class Instant:
        def __init__(self) -> None:
            self.spec = spec

        def execute(self, row: RowInput) -> ActionResult:
            return ActionResult("succeeded", {"person_id": f"p{row.row_id}"})

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _record(conn, cursor, statement, *args):  # noqa: ANN001
        seen.append(statement.strip().split("\n")[0][:60])

    executor = Instant()
    worker = Worker(engine, WorkSettings(ledger_path, concurrency=1, batch_size=100, progress=False),
                    lambda a, h, t: executor)
    worker.start()
    worker.drain()
    worker.finish()
    engine.dispose()
    assert statuses(ledger_path) == {"succeeded": 300}

    # each transaction begins with its synchronous PRAGMA; find the ones that wrote outcomes
    txns: list[list[str]] = []
    for stmt in seen:
        if stmt.startswith("PRAGMA synchronous"):
            txns.append([stmt])
        elif txns:
            txns[-1].append(stmt)
    outcome_txns = [t for t in txns if any(s.startswith("INSERT INTO attempts") for s in t)]
    claim_txns = [t for t in txns if any("RETURNING" in s or "status = 'running'" in s for s in t)
                  and not any(s.startswith("INSERT INTO attempts") for s in t)]
    assert outcome_txns and all(t[0] == "PRAGMA synchronous = NORMAL" for t in outcome_txns)
    assert len(outcome_txns) < 300 / 10  # grouped: far fewer transactions than outcomes
    assert claim_txns and all(t[0] == "PRAGMA synchronous = FULL" for t in claim_txns)
    assert not [t for t in txns if t[0] == "PRAGMA synchronous = NORMAL" and t not in outcome_txns]
