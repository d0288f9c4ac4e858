"""kill -9 in the middle of a run that reads the org's people in pages (batched reads, issue 14), then
resume: nothing created twice, nothing lost, the users that existed before end skipped."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ledger.sandbox import FaultConfig
from ledger.sandbox.testing import sandbox_factory  # noqa: F401 - fixture
from worker_support import TOKEN, finished, import_csv, kill_9_when, run_work, start_work, statuses

ROWS = 600


@pytest.mark.timeout(300)
def test_kill_9_mid_batch_with_batched_reads_creates_nothing_twice_and_loses_nothing(
    ledger_path: Path, tmp_path: Path, sandbox_factory  # noqa: F811
) -> None:
    emails = [f"crash{i:04d}@lab.example.com" for i in range(ROWS)]
    random.Random(7).shuffle(emails)
    existing = set(emails[::2])  # half the file exists already: the snapshot skips them without a request
    sb = sandbox_factory(token=TOKEN, seed=3, faults=FaultConfig(latency_ms=2, latency_jitter_ms=3))
    for e in sorted(existing):
        sb.state.add_person(e, "Old", "User")
    import_csv(ledger_path, "user.create", tmp_path / "users.csv", ["email", "first_name", "last_name"],
               [[e, "Ana", "Puig"] for e in emails])

    proc = start_work(ledger_path, sb.base_url, "--batch-size", "50", out=tmp_path / "work.out")
    kill_9_when(proc, lambda: finished(ledger_path) >= 200)
    assert statuses(ledger_path).get("running", 0) > 0  # the kill left claimed rows behind
    listed = [r for r in sb.requests() if r.method == "GET" and r.path == "/v1/people" and "email" not in r.query]
    assert listed, "the killed run did not list the org's people"

    _resume_creates_nothing_twice_and_loses_nothing(ledger_path, sb, emails, existing)


@pytest.mark.timeout(300)
def test_kill_9_while_scim_rows_wait_for_a_full_bulk_creates_nothing_twice_and_loses_nothing(
    ledger_path: Path, tmp_path: Path, sandbox_factory  # noqa: F811
) -> None:
    """user.scim_create fills its bulks across claimed batches (``ledger.work.bulks``): rows waiting for a
    bulk, and rows of a bulk in flight, are claimed and unfinished when the process dies. The next run
    reclaims them: the users the killed run created end skipped (listed, or 409 looked up), none twice."""
    emails = [f"scimcrash{i:04d}@lab.example.com" for i in range(ROWS)]
    random.Random(11).shuffle(emails)
    existing = set(emails[::2])
    sb = sandbox_factory(token=TOKEN, seed=5, faults=FaultConfig(latency_ms=150))
    for e in sorted(existing):
        sb.state.add_person(e, "Old", "User")
    import_csv(ledger_path, "user.scim_create", tmp_path / "scim.csv", ["email", "first_name", "last_name", "org_id"],
               [[e, "Ana", "Puig", sb.state.org_id] for e in emails])

    proc = start_work(ledger_path, sb.base_url, "--batch-size", "50", out=tmp_path / "work.out")
    kill_9_when(proc, lambda: bool(_bulks(sb)))
    assert statuses(ledger_path).get("running", 0) > 0  # the kill left claimed rows behind

    _resume_creates_nothing_twice_and_loses_nothing(ledger_path, sb, emails, existing)


def _resume_creates_nothing_twice_and_loses_nothing(ledger_path: Path, sb, emails: list[str], existing: set[str]) -> None:
    """The next run reclaims what the killed one held: every row final, each user once, the existing skipped."""
    code, out = run_work(ledger_path, sb.base_url, "--batch-size", "200", timeout=240)
    assert code == 0, out[-2000:]
    final = statuses(ledger_path)
    assert set(final) <= {"succeeded", "skipped"} and sum(final.values()) == ROWS
    assert all(len(sb.state.people_by_email(e)) == 1 for e in emails)
    assert all(sb.state.create_count(e) == (0 if e in existing else 1) for e in emails)
    assert final.get("skipped", 0) >= len(existing)


def _bulks(sb) -> list:
    return [r for r in sb.requests() if r.method == "POST" and r.path.endswith("/v2/Bulk")]
