"""`ledger report` lists the entities that need attention and counts every entity (issue 14: the
report's cost follows the problems, not the ledger's size). Real ledger files, the real CLI; the
outcomes are set with SQL as runs would leave them."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import Result
from sqlalchemy import event

from ledger.actions import get_spec
from ledger.importing.importer import import_file
from ledger.reporting.report import write_report
from ledger.store.engine import open_ledger

# (email, site, user.create status, user.licenses status) → the person's state
PEOPLE = (
    ("p1@x.com", "HQ", "succeeded", "succeeded"),  # complete
    ("p2@x.com", "HQ", "skipped", "succeeded"),  # complete
    ("p3@x.com", "HQ", "pending", "pending"),  # pending: untouched
    ("p4@x.com", "HQ", "succeeded", "pending"),  # pending: half done, waits for the next run
    ("p5@x.com", "HQ", "failed", "blocked"),  # failed
    ("p6@x.com", "HQ", "blocked", "blocked"),  # blocked
    ("p7@x.com", "Branch", "succeeded", "succeeded"),  # complete
    ("p8@x.com", "Branch", "pending", "pending"),  # pending
    ("p9@x.com", "Branch", "succeeded", "failed"),  # failed
    ("p10@x.com", "Branch", "succeeded", "running"),  # pending, in progress (listed)
    ("p11@x.com", "Branch", "nothing_to_do", "succeeded"),  # complete
    ("p12@x.com", "Branch", "succeeded", "skipped"),  # complete
)
LIC = "Y2lzY29zcGFyazovL3VzL0xJQ0VOU0UveA"  # ciscospark://us/LICENSE/x
LISTED = {"p5@x.com": "failed", "p6@x.com": "blocked", "p9@x.com": "failed", "p10@x.com": "pending"}


@pytest.fixture
def mixed(tmp_path: Path, engine: sa.Engine) -> Path:
    """12 people on two sites through user.create → user.licenses, plus an invalid line (no key) at HQ."""
    f = tmp_path / "people.csv"
    rows = [f"{e},F,L,{site},{LIC}" for e, site, _, _ in PEOPLE] + [f"bad@,Bad,Line,HQ,{LIC}"]
    f.write_text("email,first_name,last_name,location_name,add_license_ids\n" + "\n".join(rows) + "\n", encoding="utf-8")
    import_file(engine, get_spec("user.create"), f)
    import_file(engine, get_spec("user.licenses"), f, after=[1])
    with engine.begin() as conn:
        for line, (_, _, create, lic) in enumerate(PEOPLE, start=2):
            for import_id, status in ((1, create), (2, lic)):
                failed = status == "failed"
                conn.execute(
                    sa.text("UPDATE ledger SET status = :s, error_kind = :k, error_message = :m WHERE import_id = :i AND line_no = :l"),
                    {"s": status, "k": "row" if failed else None, "m": "HTTP 400 refused" if failed else None,
                     "i": import_id, "l": line},
                )
    return f


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _view(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_entities_that_need_attention_are_listed_and_every_entity_is_counted(
    mixed: Path, run_cli: Callable[..., Result], tmp_path: Path, ledger_path: Path
) -> None:
    out = tmp_path / "r"
    result = run_cli("report", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    listed = {e["entity"]: e for e in _csv(out / "entities.csv")}
    assert {k: e["state"] for k, e in listed.items()} == {**LISTED, "people.csv line 14 (bad@)": "failed"}
    assert (listed["p10@x.com"]["user.create"], listed["p10@x.com"]["user.licenses"]) == ("succeeded", "running")
    assert listed["p9@x.com"]["first_error"].startswith("user.licenses: failed: HTTP 400 refused")

    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["entities"] == {"person": {"total": 13, "complete": 5, "failed": 3, "blocked": 1, "pending": 4}}
    assert summary["entities_listed"] == 5
    # the two readings agree: the report's counts are the ledger's entities view (every keyed
    # entity) plus the invalid line that names no entity
    view = Counter(dict(_view(ledger_path, "SELECT state, count(*) FROM entities GROUP BY state")))
    view["failed"] += 1
    assert {**summary["entities"]["person"], "total": 0} == {**dict(view), "total": 0}
    assert sum(view.values()) == summary["entities"]["person"]["total"]


def test_progress_per_site_and_step_counts_every_entity(mixed: Path, run_cli: Callable[..., Result], tmp_path: Path, ledger_path: Path) -> None:
    out = tmp_path / "r"
    assert run_cli("report", "--out", str(out)).exit_code == 0
    page = (out / "report.html").read_text(encoding="utf-8")

    def row(name: str, *counts: int) -> str:
        return f"<tr><td>{name}</td>" + "".join(f'<td class="n">{n}</td>' for n in counts)

    # HQ: p1 p2 complete, p5 + the invalid line failed, p6 blocked, p3 p4 pending
    assert row("HQ", 7, 2, 2, 1, 2) in page
    # Branch: p7 p11 p12 complete, p9 failed, p8 p10 pending
    assert row("Branch", 6, 3, 1, 0, 2) in page
    per_site = _view(ledger_path, "SELECT site_key, count(*), sum(state = 'complete') FROM entities GROUP BY site_key ORDER BY site_key")
    assert per_site == [("site:branch", 6, 3), ("site:hq", 6, 2)]  # the view has no keyless line
    # per step, its current rows: user.create 13 = 8 complete, p5 + bad@ failed, p6 blocked, p3 p8 pending
    assert row("user.create", 13, 8, 2, 1, 2) in page
    assert row("user.licenses", 13, 5, 2, 2, 4) in page
    assert "5 of the 13 entities need attention" in page


def test_a_ledger_where_nothing_needs_attention_lists_nobody(tmp_path: Path, engine: sa.Engine, run_cli: Callable[..., Result]) -> None:
    f = tmp_path / "u.csv"
    f.write_text("email,first_name,last_name\n" + "".join(f"u{i}@x.com,U,L\n" for i in range(30)), encoding="utf-8")
    import_file(engine, get_spec("user.create"), f)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ledger SET status = 'succeeded' WHERE line_no % 3 = 0")
    out = tmp_path / "r"
    result = run_cli("report", "--out", str(out))
    assert _csv(out / "entities.csv") == []
    summary = json.loads((out / "run_summary.json").read_text())
    assert summary["entities"] == {"person": {"total": 30, "complete": 10, "pending": 20}}
    assert "(0 entities that need attention; all entities: person 30 (10 complete))" in result.stdout


def test_an_import_scoped_report_counts_that_imports_rows(mixed: Path, run_cli: Callable[..., Result], tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert run_cli("report", "--out", str(out), "--import", "1").exit_code == 0
    summary = json.loads((out / "run_summary.json").read_text())
    # user.create alone: p1 p2 p4 p7 p9 p10 p11 p12 complete, p5 + bad@ failed, p6 blocked, p3 p8 pending
    assert summary["entities"] == {"person": {"total": 13, "complete": 8, "failed": 2, "blocked": 1, "pending": 2}}
    assert {e["entity"] for e in _csv(out / "entities.csv")} == {"p5@x.com", "p6@x.com", "people.csv line 14 (bad@)"}


#: what the report may read whole (a handful of rows each; site_keys: the sites it names); the
#: ledger and its attempts only through an index
SMALL_TABLES = {"imports", "runs", "import_deps", "cooldowns", "CONSTANT ROW", "site_keys"}


def test_the_report_never_reads_the_ledger_table_whole(mixed: Path, ledger_path: Path, tmp_path: Path) -> None:
    """What keeps `ledger report` flat from 21,000 to 210,000 rows (bench/scale_bench.py): every
    statement it runs reaches ledger rows through an index (a full pass only over an index's own
    entries, ``COVERING INDEX``), never by reading the table through."""
    engine = open_ledger(ledger_path, readonly=True)
    statements: list[tuple[str, object]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _capture(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append((statement, parameters))

    try:
        write_report(engine, tmp_path / "r")
    finally:
        engine.dispose()
    scans, plans = [], []
    with sqlite3.connect(ledger_path) as conn:
        for sql, params in statements:
            if not sql.lstrip().upper().startswith("SELECT"):
                continue
            for *_, detail in conn.execute("EXPLAIN QUERY PLAN " + sql, params):  # type: ignore[arg-type]
                plans.append(detail)
                scanned = re.match(r"SCAN (\S+(?: ROW)?)", detail)
                if scanned and "COVERING INDEX" not in detail and scanned.group(1) not in SMALL_TABLES \
                        and not scanned.group(1).startswith("anon_"):
                    scans.append((detail, sql[:80]))
    assert scans == []
    # every entity is counted from the (entity_key, action, status, site_key) index alone (rev 0005)
    assert any("COVERING INDEX ix_ledger_entity_key_action_status_site_key" in d for d in plans)


def test_an_entity_whose_rows_name_two_sites_is_counted_once_at_the_least(
    tmp_path: Path, engine: sa.Engine, run_cli: Callable[..., Result]
) -> None:
    """The SQL counts and the listed entities put an entity at the same site (its rows' least site
    key), so a failed person whose create names Zeta and whose licences name Alpha moves from
    Alpha's pending to Alpha's failed, and Zeta has no entity."""
    create, lic = tmp_path / "create.csv", tmp_path / "lic.csv"
    create.write_text("email,first_name,last_name,location_name\nq@x.com,Q,Q,Zeta\nr@x.com,R,R,Zeta\n", encoding="utf-8")
    lic.write_text(f"email,location_name,add_license_ids\nq@x.com,Alpha,{LIC}\nr@x.com,Alpha,{LIC}\n", encoding="utf-8")
    import_file(engine, get_spec("user.create"), create)
    import_file(engine, get_spec("user.licenses"), lic)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE ledger SET status = 'succeeded'")
        conn.exec_driver_sql("UPDATE ledger SET status = 'failed', error_message = 'no' WHERE import_id = 1 AND line_no = 2")
    out = tmp_path / "r"
    assert run_cli("report", "--out", str(out)).exit_code == 0
    assert [(e["entity"], e["site"], e["state"]) for e in _csv(out / "entities.csv")] == [("q@x.com", "Alpha", "failed")]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert '<tr><td>Alpha</td><td class="n">2</td><td class="n">1</td><td class="n">1</td><td class="n">0</td><td class="n">0</td>' in page
    assert "<tr><td>Zeta</td>" not in page
