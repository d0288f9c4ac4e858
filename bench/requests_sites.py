"""Requests per row for the workspace.* and location.* actions (issue 14), the cases `requests_bench.py` runs
next to the user ones: `ledger work` on N rows against the sandbox, every row needing a change, then the same
file again after 10 % of the rows were put back; requests sent ÷ the minimum (the writes the changed rows need
+ the list pages a batched read needs).

Workspaces: 2,000 rows (workspaces spread over 20 calling sites). Locations: **200 sites** — a tenant has tens
to a few hundred sites, so 2,000 location rows would measure nothing real.

Page sizes of the lists (the minimum counts their pages):
- ``GET /workspaces``: 1,000 a page (webex-device.json GET /workspaces documents ``max`` without a cap; the
  ledger asks for 1,000, ledger.actions.workspaces.WORKSPACES_PAGE_MAX);
- ``GET /telephony/config/numbers``: 2,000 a page (the default and largest, snapshot.NUMBERS_PAGE_MAX);
- ``GET /locations``: 500 a page (webex-device.json GET /locations, ``max`` default 500);
- ``GET /telephony/config/locations`` (calling locations with their callingLineId): 100 a page (its spec is
  not in the reference; the sandbox's default page);
- the route choices (``GET /telephony/config/routeChoices``): one page.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from bench.common import TOKEN, ledger_import, ledger_work
except ImportError:  # run as a script
    from common import TOKEN, ledger_import, ledger_work  # type: ignore[no-redef]

WS_SITES = 20
WS_PAGE, NUMBERS_PAGE, LOCATIONS_PAGE, CALLING_LOCATIONS_PAGE = 1000, 2000, 500, 100
NUMBERS_PER_SITE = 5

NO_LIST_WS = "no list endpoint carries a workspace's {what}: one read per row (GET /workspaces/{{id}}/features/{path})"
NO_LIST_WRITTEN_FIRST = ("no list endpoint carries a workspace's outgoing permissions: which rows need a change is "
                         "only known by a request per row; the least is one a row (the idempotent PUT, written first)")
NO_LIST_LOC = "no list endpoint carries a location's {what}: one read per row ({path})"


@dataclass
class SiteCase:
    action: str
    header: str
    line: Callable[[int, dict], str]
    seed: Callable[[Any, int], dict]  # (state, n) -> ids the lines use
    put_back: Callable[[Any, dict, int], None]  # (state, what seed kept, row i): undo row i's change
    writes: Callable[[int], int] = lambda k: k  # the writes k changed rows need
    reads_per_row: int = 0  # reads a row must make whatever its state (a read-only precheck's reads)
    lists: tuple[str, ...] = ()  # which list pages the minimum counts
    unit: str = "workspace"  # one row = one workspace / one site
    note: str = ""
    kept: dict = field(default_factory=dict)


# --- workspaces ----------------------------------------------------------------------------------

def _ws(i: int) -> str:
    return f"WS{i:05d}"


def _ws_number(i: int) -> str:
    return f"+3493{i:07d}"


def _seed_ws(st: Any, n: int, *, existing: bool = True, numbers: bool = False) -> dict:
    sites = [st.add_location(f"SITE{s:02d}", calling_enabled=True) for s in range(WS_SITES)]
    lic = st.add_license("Webex Calling - Professional", "BCSTD", total=100_000)
    ids = {"licence": lic, "ws": {}}
    for i in range(n):
        if numbers:
            st.add_number(sites[i % WS_SITES], _ws_number(i))
        if existing:
            ids["ws"][i] = st.add_workspace(_ws(i), sites[i % WS_SITES], calling="webexCalling",
                                            extension=str(20000 + i))
    ids["before"] = {i: copy.deepcopy(st.workspaces[_key(w)]) for i, w in ids["ws"].items()}
    return ids


def _key(webex_id: str) -> str:
    from ledger.sandbox import ids as sid

    return sid.key(webex_id)


def _restore_ws(st: Any, kept: dict, i: int) -> None:
    with st.lock:
        st.workspaces[_key(kept["ws"][i])] = copy.deepcopy(kept["before"][i])
        rec = st.numbers.get(_ws_number(i))
        if rec is not None and rec["_owner"]:
            rec["_owner"] = None
            st.reindex_number(rec)


def _delete_ws(st: Any, kept: dict, i: int) -> None:
    with st.lock:
        for w in st.workspaces_by_name(_ws(i)):
            del st.workspaces[_key(w["id"])]


# --- locations -----------------------------------------------------------------------------------

def _site(i: int) -> str:
    return f"BSITE{i:03d}"


def _site_numbers(i: int) -> list[str]:
    return [f"+3493{i:03d}{j:04d}" for j in range(NUMBERS_PER_SITE)]


def _seed_sites(st: Any, n: int, *, numbers: bool = False, calling: bool = True) -> dict:
    kept: dict = {"sites": {}, "route": st.add_route_group("RG_BENCH")}
    for i in range(n):
        lid = st.add_location(_site(i), calling_enabled=calling)
        kept["sites"][i] = lid
        if numbers:
            for num in _site_numbers(i):
                st.add_number(lid, num)
    kept["before"] = {i: copy.deepcopy(st.locations[_key(lid)]) for i, lid in kept["sites"].items()}
    return kept


def _restore_site(st: Any, kept: dict, i: int) -> None:
    with st.lock:
        loc = st.locations[_key(kept["sites"][i])]
        loc.clear()
        loc.update(copy.deepcopy(kept["before"][i]))
        for rec in st.numbers_in(loc["id"]).values():
            rec["mainNumber"] = False


def _remove_site_numbers(st: Any, kept: dict, i: int) -> None:
    with st.lock:
        for num in _site_numbers(i):
            st.numbers.pop(num, None)


CASES = [
    SiteCase("workspace.create", "display_name,location_name,extension,licenses",
             lambda i, ids: f"{_ws(i)},SITE{i % WS_SITES:02d},{20000 + i},{ids['licence']}",
             lambda st, n: _seed_ws(st, n, existing=False), _delete_ws, lists=("workspaces", "locations")),
    SiteCase("workspace.secondary_number", "workspace_name,legacy_phone_number",
             lambda i, ids: f"{_ws(i)},{_ws_number(i)}", lambda st, n: _seed_ws(st, n, numbers=True), _restore_ws,
             lists=("workspaces", "numbers")),
    SiteCase("workspace.forwarding", "workspace_name,extension", lambda i, ids: f"{_ws(i)},{20000 + i}",
             _seed_ws, _restore_ws, lists=("workspaces",),
             note=NO_LIST_WS.format(what="forwarding", path="callForwarding")),
    # with transfer_enabled, as the operators' files give it: a complete row is written first
    SiteCase("workspace.outgoing_permissions", "workspace_name,call_type,action,transfer_enabled",
             lambda i, ids: f"{_ws(i)},NATIONAL,BLOCK,FALSE", _seed_ws, _restore_ws, lists=("workspaces",),
             note=NO_LIST_WRITTEN_FIRST),
    SiteCase("workspace.check_permissions", "workspace_name", lambda i, ids: _ws(i), _seed_ws,
             lambda st, kept, i: None, writes=lambda k: 0, reads_per_row=2, lists=("workspaces",),
             note="a read-only precheck: its two reads a workspace (forwarding, outgoing permissions) are the "
                  "action, and no list carries them; its minimum counts them (2 a row)"),
    SiteCase("location.numbers", "name,phone_numbers",
             lambda i, ids: f"{_site(i)},\"{','.join(_site_numbers(i))}\"", lambda st, n: _seed_sites(st, n),
             _remove_site_numbers, lists=("locations", "numbers"), unit="site"),
    SiteCase("location.main_number", "name,calling_line_id", lambda i, ids: f"{_site(i)},{_site_numbers(i)[0]}",
             lambda st, n: _seed_sites(st, n, numbers=True), _restore_site,
             lists=("locations", "calling_locations", "numbers"), unit="site"),
    # new sites (v21 ubicacion_configurar_pstn): each is enabled for calling (POST) and connected (PUT)
    SiteCase("location.pstn", "name,premise_route_type,route_identity,announcement_language,preferred_language",
             lambda i, ids: f"{_site(i)},ROUTE_GROUP,RG_BENCH,es_es,es_ES",
             lambda st, n: _seed_sites(st, n, calling=False), _restore_site, writes=lambda k: 2 * k,
             lists=("locations", "calling_locations", "route_choices"), unit="site",
             note=NO_LIST_LOC.format(what="PSTN connection", path="GET /telephony/pstn/locations/{id}/connection")),
    SiteCase("location.internal_dialing", "name,enable_unknown_extension_route_policy,route_identity",
             lambda i, ids: f"{_site(i)},TRUE,RG_BENCH", _seed_sites, _restore_site,
             lists=("locations", "route_choices"), unit="site",
             note=NO_LIST_LOC.format(what="internal dialing",
                                     path="GET /telephony/config/locations/{id}/internalDialing")),
    SiteCase("location.outgoing_permissions", "name,call_type,action", lambda i, ids: f"{_site(i)},NATIONAL,BLOCK",
             _seed_sites, _restore_site, lists=("locations",), unit="site",
             note=NO_LIST_LOC.format(what="outgoing permissions",
                                     path="GET /telephony/config/locations/{id}/outgoingPermission")),
]


def pages(st: Any, which: str) -> int:
    """What listing ``which`` costs now (pages of the contract's largest size)."""
    if which == "workspaces":
        return max(1, math.ceil(len(st.workspaces) / WS_PAGE))
    if which == "numbers":
        return max(1, math.ceil(len(st.numbers) / NUMBERS_PAGE))
    if which == "locations":
        return max(1, math.ceil(len(st.locations) / LOCATIONS_PAGE))
    if which == "calling_locations":
        return max(1, math.ceil(sum(1 for x in st.locations.values() if x["_calling"]) / CALLING_LOCATIONS_PAGE))
    return 1  # route choices


def rows_for(case: SiteCase, rows: int, quick: bool) -> int:
    if case.unit == "site":
        return 40 if quick else 200
    return 200 if quick else rows


def minimum(case: SiteCase, st: Any, changed: int, rows: int) -> int:
    return case.writes(changed) + case.reads_per_row * rows + sum(pages(st, w) for w in case.lists)


def one(case: SiteCase, n: int, tmp: Path, by_endpoint: Callable[[list[Any]], dict[str, int]]) -> list[dict[str, Any]]:
    """Both cases of one action: every row needs a change, then every tenth row put back and the file run again."""
    from ledger.sandbox import Sandbox

    out = []
    with Sandbox(token=TOKEN, seed=1) as sb:
        st = sb.state
        kept = case.seed(st, n)
        src = tmp / f"{case.action}.csv"
        src.write_text(case.header + "\n" + "".join(case.line(i, kept) + "\n" for i in range(n)), encoding="utf-8")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "LEDGER_"))},
               "WEBEX_ACCESS_TOKEN": TOKEN, "WEBEX_BASE_URL": sb.base_url}
        for label in ("all rows need a change", "10 % need a change"):
            if label.startswith("all"):
                changed = list(range(n))
            else:
                changed = list(range(0, n, 10))
                for i in changed:
                    case.put_back(st, kept, i)
            k = 0 if case.writes(1) == 0 else len(changed)
            db = tmp / f"{case.action}-{len(changed)}.db"
            ledger_import(db, src, case.action)
            least = minimum(case, st, len(changed), n)
            sb.log.clear()
            run = ledger_work(db, env)
            log = sb.requests()
            out.append({"action": case.action, "case": label, "rows": n, "changed": k, "requests": len(log),
                        "minimum": least, "ratio": len(log) / least, "per_row": len(log) / n,
                        "wall_s": run.wall, "note": case.note, "outcomes": _outcomes(db),
                        "by_endpoint": by_endpoint(log)})
    return out


def _outcomes(db: Path) -> dict[str, int]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM ledger GROUP BY status").fetchall())
