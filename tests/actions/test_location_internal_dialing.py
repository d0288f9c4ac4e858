"""location.internal_dialing against the sandbox: policy + route identity compared, written only when different."""

from __future__ import annotations

import pytest

from ledger.errors import RowFailure
from ledger.sandbox import ids

SITE = "CUV93470292900"


@pytest.fixture
def site(sandbox):
    st = sandbox.state
    rg = st.add_route_group("RG_TEST")
    trunk = st.add_trunk("TRUNK_TEST")
    loc = st.add_location(SITE, calling_enabled=True)
    sandbox.log.clear()
    return {"rg": rg, "trunk": trunk, "loc": loc}


def dialing(sandbox, lid):
    return sandbox.state.get_location(lid)["_internalDialing"]


def test_enables_routing_to_the_route_group(sandbox, act, site):
    a = act(sandbox, "location.internal_dialing")
    res = a.run({"name": SITE, "enable_unknown_extension_route_policy": "TRUE", "premise_route_type": "ROUTE_GROUP",
                 "premise_route_id": site["rg"]})

    assert res.status == "succeeded"
    assert a.writes() == [
        (
            "PUT",
            f"/v1/telephony/config/locations/{site['loc']}/internalDialing",
            {"enableUnknownExtensionRoutePolicy": True,
             "unknownExtensionRouteIdentity": {"id": site["rg"], "name": None, "type": "ROUTE_GROUP"}},
        )
    ]
    now = dialing(sandbox, site["loc"])
    assert now["enableUnknownExtensionRoutePolicy"] is True
    assert ids.same(now["unknownExtensionRouteIdentity"]["id"], site["rg"])


def test_second_run_is_skipped_without_writes(sandbox, act, site):
    r = {"name": SITE, "enable_unknown_extension_route_policy": "TRUE", "premise_route_id": site["rg"]}
    act(sandbox, "location.internal_dialing").run(r)
    sandbox.log.clear()

    again = act(sandbox, "location.internal_dialing")
    res = again.run({**r, "premise_route_id": site["rg"] + "=="})

    assert res.status == "skipped"
    assert again.writes() == []


def test_other_route_is_rewritten(sandbox, act, site):
    act(sandbox, "location.internal_dialing").run(
        {"name": SITE, "enable_unknown_extension_route_policy": "TRUE", "premise_route_id": site["rg"]})
    a = act(sandbox, "location.internal_dialing")

    res = a.run({"name": SITE, "enable_unknown_extension_route_policy": "TRUE", "premise_route_type": "TRUNK",
                 "premise_route_id": site["trunk"]})

    assert res.status == "succeeded"
    assert dialing(sandbox, site["loc"])["unknownExtensionRouteIdentity"]["type"] == "TRUNK"


def test_turning_off_keeps_the_configured_route_and_is_idempotent(sandbox, act, site):
    act(sandbox, "location.internal_dialing").run(
        {"name": SITE, "enable_unknown_extension_route_policy": "TRUE", "premise_route_id": site["rg"]})
    sandbox.log.clear()
    a = act(sandbox, "location.internal_dialing")

    assert a.run({"name": SITE, "enable_unknown_extension_route_policy": "FALSE"}).status == "succeeded"
    (body,) = a.bodies("PUT", "/internalDialing")
    assert body["enableUnknownExtensionRoutePolicy"] is False
    assert ids.same(body["unknownExtensionRouteIdentity"]["id"], site["rg"])
    assert dialing(sandbox, site["loc"])["enableUnknownExtensionRoutePolicy"] is False

    sandbox.log.clear()
    assert a.run({"name": SITE, "enable_unknown_extension_route_policy": "FALSE"}).status == "skipped"
    assert a.writes() == []


def test_enable_without_route_id_is_a_row_error_before_any_call(sandbox, act, site):
    a = act(sandbox, "location.internal_dialing")
    with pytest.raises(RowFailure) as err:
        a.run({"name": SITE, "enable_unknown_extension_route_policy": "TRUE"})
    assert err.value.code == "missing_route"
    assert sandbox.requests() == []


def test_non_calling_location_is_a_row_error(sandbox, act, site):
    sandbox.state.add_location("OFF", calling_enabled=False)
    a = act(sandbox, "location.internal_dialing")
    with pytest.raises(RowFailure) as err:
        a.run({"name": "OFF", "enable_unknown_extension_route_policy": "TRUE", "premise_route_id": site["rg"]})
    assert err.value.code == "location_not_calling"
    assert err.value.http_status == 400
    assert a.writes() == []


def test_dry_run_writes_nothing(sandbox, act, site):
    a = act(sandbox, "location.internal_dialing", dry_run=True)
    res = a.run({"name": SITE, "enable_unknown_extension_route_policy": "TRUE", "premise_route_id": site["rg"]})
    assert res.status == "succeeded"
    assert res.planned == {"enableUnknownExtensionRoutePolicy": True,
                           "unknownExtensionRouteIdentity": {"id": site["rg"], "type": "ROUTE_GROUP"}}
    assert a.writes() == []
    assert dialing(sandbox, site["loc"])["enableUnknownExtensionRoutePolicy"] is False


def test_route_by_name_when_the_id_is_empty(sandbox, act, site):
    a = act(sandbox, "location.internal_dialing")
    row = {"name": SITE, "enable_unknown_extension_route_policy": "TRUE", "route_identity": "RG_TEST"}
    assert a.run(row).status == "succeeded"
    assert ids.same(dialing(sandbox, site["loc"])["unknownExtensionRouteIdentity"]["id"], site["rg"])
    sandbox.log.clear()
    assert a.run(row).status == "skipped"  # the name is resolved once per run: no routeChoices call again
    assert [r.path for r in sandbox.requests() if r.path.endswith("/routeChoices")] == []
    assert a.writes() == []
