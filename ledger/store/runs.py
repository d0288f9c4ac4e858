"""SQL of a run's life: registering it, heartbeats, its end, listing runs, and the run-wide Webex pause (cooldowns) workers share through the ledger.

Which run is dead is not decided here (``ledger.work.liveness``); taking rows back from dead runs is
``ledger.store.recovery``.
Every write runs in ``engine.begin()`` (the write lock from the first statement, ``ledger.store.dialect``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ledger.models import RunStatus
from ledger.store.engine import utcnow
from ledger.store.schema import cooldowns, runs

WEBEX_SCOPE = "webex"  # cooldowns.scope of the run-wide Webex pause


@dataclass(frozen=True)
class RunInfo:
    """A ``runs`` row as the liveness rule, ``status`` and the report see it."""

    id: int
    status: str
    pid: int
    host: str
    started_at: str
    heartbeat_at: str | None = None
    finished_at: str | None = None
    import_id: int | None = None
    exit_code: int | None = None
    message: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> RunInfo:
        m = row._mapping
        return cls(**{f: m[f] for f in cls.__dataclass_fields__})


@dataclass
class RunCounters:
    claimed: int = 0
    succeeded: int = 0
    skipped: int = 0
    failed: int = 0
    blocked: int = 0  # rows this run found blocked by a failed prerequisite (not executed)
    released: int = 0
    retries: int = 0
    throttled: int = 0

    def as_params(self) -> dict[str, int]:
        return dict(self.__dict__)


# --- runs ----------------------------------------------------------------------------------------


def create_run(
    engine: sa.Engine,
    *,
    pid: int,
    host: str,
    import_id: int | None,
    batch_size: int,
    concurrency: int,
    retry_profile: str,
    dry_run: bool,
) -> int:
    now = utcnow()
    stmt = runs.insert().values(
        status=RunStatus.RUNNING.value,
        pid=pid,
        host=host,
        started_at=now,
        heartbeat_at=now,
        import_id=import_id,
        batch_size=batch_size,
        concurrency=concurrency,
        retry_profile=retry_profile,
        dry_run=dry_run,
    )
    with engine.begin() as conn:
        return int(conn.execute(stmt).inserted_primary_key[0])  # type: ignore[index]


def heartbeat(engine: sa.Engine, run_id: int, counters: RunCounters) -> None:
    stmt = runs.update().where(runs.c.id == run_id).values(heartbeat_at=utcnow(), **counters.as_params())
    with engine.begin() as conn:
        conn.execute(stmt)


def finish_run(
    engine: sa.Engine, run_id: int, status: RunStatus, exit_code: int, message: str | None, counters: RunCounters
) -> None:
    now = utcnow()
    stmt = (
        runs.update()
        .where(runs.c.id == run_id)
        .values(
            status=status.value,
            exit_code=exit_code,
            message=message,
            finished_at=now,
            heartbeat_at=now,
            **counters.as_params(),
        )
    )
    with engine.begin() as conn:
        conn.execute(stmt)


def running_runs(conn: sa.Connection) -> list[RunInfo]:
    """Runs whose row says ``running`` (alive or not: ``ledger.work.liveness`` decides)."""
    stmt = sa.select(runs).where(runs.c.status == RunStatus.RUNNING.value).order_by(runs.c.id)
    return [RunInfo.from_row(r) for r in conn.execute(stmt)]


def list_runs(conn: sa.Connection) -> list[RunInfo]:
    return [RunInfo.from_row(r) for r in conn.execute(sa.select(runs).order_by(runs.c.id))]


# --- cooldowns (run-wide Retry-After pause shared through the ledger) ----------------------------

_SET_COOLDOWN = sa.text(
    "INSERT INTO cooldowns (scope, paused_until, reason, updated_at) VALUES (:scope, :until, :reason, :now) "
    "ON CONFLICT (scope) DO UPDATE SET paused_until = excluded.paused_until, reason = excluded.reason, "
    "updated_at = excluded.updated_at WHERE excluded.paused_until > cooldowns.paused_until"
)


def set_cooldown(engine: sa.Engine, until: float, reason: str, scope: str = WEBEX_SCOPE) -> None:
    """Store a pause until unix time ``until`` (kept if a later pause is already stored)."""
    with engine.begin() as conn:
        conn.execute(_SET_COOLDOWN, {"scope": scope, "until": until, "reason": reason, "now": utcnow()})


def get_cooldown(engine: sa.Engine, scope: str = WEBEX_SCOPE) -> float | None:
    """The stored pause end (unix time) for ``scope``, or None."""
    with engine.connect() as conn:
        value = conn.execute(_GET_COOLDOWN, {"scope": scope}).scalar_one_or_none()
    return None if value is None else float(value)


# built once: the gate reads it every few ms from a row's thread (a new select each time cost more than the read)
_GET_COOLDOWN = sa.select(cooldowns.c.paused_until).where(cooldowns.c.scope == sa.bindparam("scope"))


__all__ = [
    "WEBEX_SCOPE", "RunCounters", "RunInfo", "create_run", "finish_run", "get_cooldown",
    "heartbeat", "list_runs", "running_runs", "set_cooldown",
]
