"""Requests per row, per action (issue 14): `ledger work` on 2,000 rows against the sandbox, in two cases —
every row needs a change, and 10 % do (the same file run again after 10 % of the org was put back) — as a
ratio to the minimum: the writes the changed rows need + the list pages a batched read needs.

    .venv/bin/python bench/requests_bench.py [--rows 2000] [--only user.licenses,…]

The sandbox runs in this process (its state is seeded and put back directly); `ledger work` is a real
subprocess. Requests are counted from the sandbox's request log; each run also sends one preflight
(`GET /people/me`), counted in "measured", not in the minimum.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from bench import requests_sites
    from bench.common import TOKEN, ledger_import, ledger_work
except ImportError:  # run as a script
    import requests_sites  # type: ignore[no-redef]
    from common import TOKEN, ledger_import, ledger_work  # type: ignore[no-redef]

SITES = 20
PEOPLE_PAGE = 100  # GET /people with callingData=true: at most 100 a page (the contract)
NUMBERS_PAGE = 2000
MOVE_POLLS = 3  # the sandbox's jobs end on their third status read

# actions that cannot reach the goal, and why (the table says so)
NO_LIST = ("no list endpoint carries it: which rows need a change is only known by a request per row, so the "
           "least is one request a row (the idempotent PUT, written first) — the 10 % case cannot reach 1.2×")


@dataclass
class Case:
    action: str
    header: str
    line: Callable[[int, dict], str]  # row i, seeded ids -> CSV line
    calling: bool = True  # seed calling users at a site
    numbers: bool = False  # seed one inventory number per user
    existing: bool = True  # the people exist before the run (not for the create actions)
    minimum: Callable[[list[int], int, int], int] = lambda changed, pages, numbers: len(changed) + pages
    order: Callable[[int], Any] = lambda i: i  # the file's row order
    note: str = ""


def _email(i: int) -> str:
    return f"req{i:05d}@bench.example.com"


CASES = [
    Case("user.create", "email,first_name,last_name", lambda i, ids: f"{_email(i)},Ana,Puig", calling=False,
         existing=False),
    Case("user.scim_create", "email,first_name,last_name,org_id", lambda i, ids: f"{_email(i)},Ana,Puig,{ids['org']}",
         calling=False, existing=False, minimum=lambda c, pages, n: math.ceil(len(c) / 100) + pages),
    Case("user.licenses", "email,add_license_ids", lambda i, ids: f"{_email(i)},{ids['licence']}", calling=False,
         minimum=lambda c, pages, n: len(c) + pages + 1),  # + the licence catalogue
    # the file lists the users by target site (as the operators' per-site files do); one job per ≤ 100
    # users of a site: a POST and its status reads
    Case("user.move_location", "email,location_name", lambda i, ids: f"{_email(i)},{_target(i)}",
         minimum=lambda c, pages, n: _move_jobs(c) * (1 + MOVE_POLLS) + pages + 1,  # + the locations list
         order=lambda i: (_target(i), i)),
    Case("user.secondary_number", "email,legacy_phone_number", lambda i, ids: f"{_email(i)},{_number(i)}",
         numbers=True, minimum=lambda c, pages, n: len(c) + pages + math.ceil(n / NUMBERS_PAGE)),
    Case("user.forwarding", "email,destination", lambda i, ids: f"{_email(i)},53{10000 + i}", note=NO_LIST),
    # the operators' Usuarios.csv layout gives transfer_enabled with call_type (a complete row: written first)
    Case("user.outgoing_permissions", "email,call_type,action,transfer_enabled",
         lambda i, ids: f"{_email(i)},NATIONAL,BLOCK,FALSE", note=NO_LIST),
]


def _target(i: int) -> str:
    return f"SITE{(i + 1) % SITES:02d}"


def _move_jobs(changed: list[int]) -> int:
    per_site: dict[str, int] = {}
    for i in changed:
        per_site[_target(i)] = per_site.get(_target(i), 0) + 1
    return sum(math.ceil(k / 100) for k in per_site.values())


def _number(i: int) -> str:
    return f"+3493{i:07d}"


def seed(st: Any, case: Case, n: int) -> dict[str, str]:
    """Sites, people (and numbers) as the case needs; returns the ids the CSV lines use."""
    sites = [st.add_location(f"SITE{s:02d}", calling_enabled=True) for s in range(SITES)]
    ids = {"org": st.org_id, "licence": st.add_license("Bench Licence", "BENCHX", total=100_000)}
    for i in range(n):
        if case.numbers:
            st.add_number(sites[i % SITES], _number(i))
        if case.existing:
            site = sites[i % SITES] if case.calling else None
            st.add_person(_email(i), "Ana", "Puig", location_id=site, extension=str(10000 + i) if site else None,
                          calling=case.calling)
    return ids


def put_back(st: Any, case: Case, before: dict[str, dict], n: int) -> list[int]:
    """Undo the first run for every tenth row (the 10 % case); returns those rows."""
    from ledger.sandbox import ids as sid

    k = []
    for i in range(0, n, 10):
        p = st.person_by_email(_email(i))
        if p is None:
            continue
        k.append(i)
        if not case.existing:
            st.api_delete_person(p["id"])
            continue
        with st.lock:
            st.people[sid.key(p["id"])] = copy.deepcopy(before[_email(i)])
            if case.numbers:
                rec = st.numbers.get(_number(i))
                rec["_owner"] = None
                st.reindex_number(rec)
    return k


def _pages(st: Any) -> int:
    return max(1, math.ceil((len(st.people) - 1) / PEOPLE_PAGE))  # the admin is not listed


def one(case: Case, n: int, tmp: Path) -> list[dict[str, Any]]:
    from ledger.sandbox import Sandbox

    out = []
    with Sandbox(token=TOKEN, seed=1) as sb:
        st = sb.state
        ids = seed(st, case, n)
        before = {_email(i): copy.deepcopy(st.person_by_email(_email(i))) for i in range(n)} if case.existing else {}
        src = tmp / f"{case.action}.csv"
        lines = [case.line(i, ids) for i in sorted(range(n), key=case.order)]
        src.write_text(case.header + "\n" + "".join(line + "\n" for line in lines), encoding="utf-8")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "LEDGER_"))},
               "WEBEX_ACCESS_TOKEN": TOKEN, "WEBEX_BASE_URL": sb.base_url}
        for label in ("all rows need a change", "10 % need a change"):
            changed = list(range(n)) if label.startswith("all") else put_back(st, case, before, n)
            k = len(changed)
            db = tmp / f"{case.action}-{k}.db"
            ledger_import(db, src, case.action)
            pages = _pages(st)
            sb.log.clear()
            run = ledger_work(db, env)
            log = sb.requests()
            minimum = case.minimum(changed, pages, len(st.numbers))
            out.append({"action": case.action, "case": label, "rows": n, "changed": k, "requests": len(log),
                        "minimum": minimum, "ratio": len(log) / minimum, "per_row": len(log) / n,
                        "wall_s": run.wall, "note": case.note,
                        "by_endpoint": _by_endpoint(log)})
    return out


def _by_endpoint(log: list[Any]) -> dict[str, int]:
    import re

    counts: dict[str, int] = {}
    for r in log:
        path = re.sub(r"/[A-Za-z0-9_=-]{30,}", "/{id}", r.path)
        k = f"{r.method} {path}"
        counts[k] = counts.get(k, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def measure(quick: bool = False, rows: int = 2000, only: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    global SITES
    SITES = 4 if quick else 20  # quick: fewer move jobs (each waits its status reads' back-off)
    n = 200 if quick else rows
    with tempfile.TemporaryDirectory(prefix="ledger-bench-requests-") as d:
        results = []
        for case in CASES:
            if not only or case.action in only:
                results.extend(one(case, n, Path(d)))
        for site_case in requests_sites.CASES:  # workspace.* and location.* (bench/requests_sites.py)
            if not only or site_case.action in only:
                count = requests_sites.rows_for(site_case, rows, quick)
                results.extend(requests_sites.one(site_case, count, Path(d), _by_endpoint))
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--only", default="")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    only = tuple(x for x in args.only.split(",") if x)
    for r in measure(args.quick, args.rows, only):
        print(json.dumps({k: v for k, v in r.items() if k != "by_endpoint"}), json.dumps(r["by_endpoint"]))


if __name__ == "__main__":
    main()
