"""A whole v21 user migration (issue 14): requests by step at 2,100 users, and the projected wall time of
21,000 users at 300 requests/min (requests × 10 ÷ 300), before (commit 7813427) and after.

    .venv/bin/python bench/migration_bench.py [--users 2100] [--before /path/to/old/.venv/bin/ledger]

The plan is the user part of the README's "Recommended order": user.scim_create → user.licenses (a Calling
licence with the site and extension) → user.secondary_number → user.forwarding → user.outgoing_permissions,
one Usuarios.csv-like file imported once per step, each step run by its own `ledger work` (a real
subprocess) against one sandbox (this process; 21 calling-enabled sites of 100 users, the numbers in
their inventory). The location steps (21 sites × 5 steps) and workspaces are left out: a few hundred
requests, under 1 % of the total. "before" runs the same files with the `ledger` of commit 7813427 (when
``--before`` names its binary; otherwise it is reasoned from the per-row counts issue 14 measured).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from typing import Any

try:
    from bench.common import LEDGER, TOKEN, run
except ImportError:  # run as a script
    from common import LEDGER, TOKEN, run  # type: ignore[no-redef]

STEPS = ("user.scim_create", "user.licenses", "user.secondary_number", "user.forwarding", "user.outgoing_permissions")
# issue 14, "Measured today": requests per row of each step before the change (one row of each action)
BEFORE_PER_ROW = {"user.scim_create": 0.01, "user.licenses": 3, "user.secondary_number": 3, "user.forwarding": 3,
                  "user.outgoing_permissions": 3}
SITE_USERS = 100
ALLOWANCE_PER_MIN = 300
SCALE_TO = 21_000


def _site(i: int) -> str:
    return f"V21-SITE{i // SITE_USERS:02d}"


def _number(i: int) -> str:
    return f"+3494{i:07d}"


def write_file(path: Path, users: int, licence_id: str, org_id: str) -> None:
    head = "email,first_name,last_name,add_license_ids,location_name,extension,legacy_phone_number,destination," \
           "call_type,action,transfer_enabled,org_id"
    lines = [head]
    for i in range(users):
        ext = str(20000 + i)
        lines.append(f"v21user{i:05d}@bench.example.com,Ana,Puig,{licence_id},{_site(i)},{ext},{_number(i)},"
                     f"53{ext},NATIONAL,BLOCK,FALSE,{org_id}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def migrate(ledger: Path, users: int, tmp: Path) -> dict[str, Any]:
    """Every step in order on a fresh sandbox with ``ledger`` (a binary); requests and wall time by step."""
    from ledger.sandbox import Sandbox

    with Sandbox(token=TOKEN, seed=1) as sb:
        st = sb.state
        sites = {}
        for i in range(users):
            if _site(i) not in sites:
                sites[_site(i)] = st.add_location(_site(i), calling_enabled=True)
            st.add_number(sites[_site(i)], _number(i))
        bcstd = st.license_by_sku("BCSTD")
        bcstd["totalUnits"] = 100_000
        src = tmp / "Usuarios.csv"
        write_file(src, users, bcstd["id"], st.org_id)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("WEBEX_", "LEDGER_"))},
               "WEBEX_ACCESS_TOKEN": TOKEN, "WEBEX_BASE_URL": sb.base_url}
        steps = []
        for action in STEPS:
            # the first step always runs with today's ledger: commit 7813427's SCIM request lacks `userType`,
            # which the strict sandbox (issue 11) refuses; its count is then 1 bulk a 100 users (below)
            binary = LEDGER if action == STEPS[0] else ledger
            db = tmp / f"migration-{ledger.parent.parent.parent.name}-{action}.db"
            run([str(binary), "--db", str(db), "import", str(src), "--action", action], env=env)
            sb.log.clear()
            done = run([str(binary), "--db", str(db), "work"], env=env)
            log = sb.requests()
            bad = sum(1 for r in log if r.status >= 400 and r.status != 409)
            steps.append({"step": action, "rows": users, "requests": len(log), "per_row": len(log) / users,
                          "errors_4xx_5xx": bad, "wall_s": done.wall, "summary": done.stdout.strip().splitlines()[-1:]})
        complete = sum(1 for i in range(users)
                       if (p := st.person_by_email(f"v21user{i:05d}@bench.example.com")) is not None
                       and p.get("extension") == str(20000 + i)
                       and p["_features"]["callForwarding"]["callForwarding"]["always"]["enabled"])
    if ledger != LEDGER:  # before: one /Bulk request per 100 users, no list (issue 14's description)
        steps[0].update(requests=-(-users // 100), per_row=-(-users // 100) / users, note="reasoned")
    total = sum(s["requests"] for s in steps)
    return {"users": users, "steps": steps, "requests": total, "complete_users": complete,
            "projected_requests_21k": total * SCALE_TO / users,
            "projected_hours_21k": total * SCALE_TO / users / ALLOWANCE_PER_MIN / 60}


def reasoned_before(users: int) -> dict[str, Any]:
    steps = [{"step": a, "rows": users, "requests": BEFORE_PER_ROW[a] * users, "per_row": BEFORE_PER_ROW[a]}
             for a in STEPS]
    total = sum(s["requests"] for s in steps)
    return {"users": users, "steps": steps, "requests": total, "reasoned": True,
            "projected_requests_21k": total * SCALE_TO / users,
            "projected_hours_21k": total * SCALE_TO / users / ALLOWANCE_PER_MIN / 60}


def measure(quick: bool = False, users: int = 2100, before: Path | None = None) -> dict[str, Any]:
    users = 300 if quick else users
    with tempfile.TemporaryDirectory(prefix="ledger-bench-migration-") as d:
        after = migrate(LEDGER, users, Path(d))
        old = migrate(before, users, Path(d)) if before is not None and before.exists() else reasoned_before(users)
    return {"after": after, "before": old}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2100)
    parser.add_argument("--before", type=Path, default=None, help="the `ledger` binary of commit 7813427")
    args = parser.parse_args()
    print(json.dumps(measure(users=args.users, before=args.before), indent=1))


if __name__ == "__main__":
    main()
