"""Each action's requests pass the Webex contract on the strict sandbox (issue 11, §1).

One seeded org, one row per action that makes it write (or read, for the read-only check), run with
the real wxc_sdk: every request must be an endpoint of ledger/sandbox/contract.json, none may be
refused by the contract check (a missing required field, an unknown field, an undocumented enum),
and every answer must carry only contract fields and documented statuses. (The autouse fixture of
tests/actions/conftest.py applies the same checks to every other action test.)
"""

from __future__ import annotations

import pytest

from ledger.actions import REGISTRY
from ledger.sandbox import contract
from ledger.sandbox.testing import contract_gaps, contract_response_problems


def _seed(sb) -> dict[str, str]:
    st = sb.state
    loc = st.add_location("HQ", calling_enabled=True)
    st.add_location("BRANCH", calling_enabled=True)
    st.add_location("NEW", calling_enabled=False)
    rg = st.add_route_group("RG1")
    for n in ("+34930000001", "+34930000002", "+34930000003"):
        st.add_number(loc, n)
    ftc = st.license_by_sku("FTC")["id"]
    st.add_person("ana@example.com", "Ana", "Ruiz", location_id=loc, extension="1001", calling=True)
    st.add_person("bob@example.com", "Bob", "Diaz", licenses=[ftc])
    st.add_person("eva@example.com", "Eva", "Sanz", licenses=[ftc])
    st.add_workspace("Sala", loc, calling="webexCalling", extension="2001")
    sb.log.clear()
    return {"rg": rg, "ftc": ftc, "bcstd": st.license_by_sku("BCSTD")["id"]}


ROWS = {
    "user.create": lambda s: {"email": "new@example.com", "first_name": "New", "last_name": "User"},
    "user.scim_create": lambda s: {"email": "scim@example.com", "first_name": "Sc", "last_name": "Im"},
    "user.licenses": lambda s: {"email": "bob@example.com", "add_license_ids": s["bcstd"], "location_name": "HQ",
                                "extension": "1003"},
    "user.remove_licenses": lambda s: {"email": "eva@example.com", "remove_license_ids": s["ftc"]},
    "user.move_location": lambda s: {"email": "ana@example.com", "location_name": "BRANCH"},
    "user.secondary_number": lambda s: {"email": "ana@example.com", "legacy_phone_number": "+34930000002"},
    "user.forwarding": lambda s: {"email": "ana@example.com", "extension": "1001"},
    "user.outgoing_permissions": lambda s: {"email": "ana@example.com", "call_type": "INTERNATIONAL",
                                            "action": "ALLOW"},
    "location.pstn": lambda s: {"name": "NEW", "premise_route_id": s["rg"], "announcement_language": "es_es",
                                "preferred_language": "es_ES"},
    "location.numbers": lambda s: {"name": "HQ", "phone_numbers": "+34930000009"},
    "location.main_number": lambda s: {"name": "HQ", "calling_line_id": "+34930000003"},
    "location.internal_dialing": lambda s: {"name": "HQ", "enable_unknown_extension_route_policy": "TRUE",
                                            "premise_route_id": s["rg"]},
    "location.outgoing_permissions": lambda s: {"name": "HQ", "call_type": "INTERNATIONAL", "action": "ALLOW"},
    "workspace.create": lambda s: {"display_name": "Lobby", "location_name": "HQ", "extension": "2002"},
    "workspace.secondary_number": lambda s: {"workspace_name": "Sala", "legacy_phone_number": "+34930000001"},
    "workspace.forwarding": lambda s: {"workspace_name": "Sala", "extension": "2001"},
    "workspace.outgoing_permissions": lambda s: {"workspace_name": "Sala", "call_type": "INTERNATIONAL",
                                                 "action": "ALLOW"},
    "workspace.check_permissions": lambda s: {"workspace_name": "Sala"},
}


def test_every_action_has_a_scenario():
    assert set(ROWS) == {spec.name for spec in REGISTRY.specs}


@pytest.mark.parametrize("action", sorted(ROWS))
def test_action_requests_pass_the_contract(sandbox, act, action):
    seeded = _seed(sandbox)
    a = act(sandbox, action)
    if hasattr(a.executor, "sleep"):
        a.executor.sleep = lambda s: None
    res = a.run(ROWS[action](seeded), {"org_id": sandbox.state.org_id})

    assert res.status == "succeeded", res.result
    requests = sandbox.requests()
    assert any(r.method != "GET" for r in requests) or REGISTRY.get(action).read_only
    assert contract_gaps(sandbox) == []
    assert [(r.method, r.path, r.response) for r in requests if r.fault == "contract"] == []
    assert contract_response_problems(sandbox) == []
    assert all(contract.find(r.method, r.path) is not None for r in requests)
