"""location.pstn against the sandbox: enable calling when needed, LGW option chosen by type, skipped when equal."""

from __future__ import annotations

import pytest

from ledger.errors import RowFailure
from ledger.sandbox import ids


@pytest.fixture
def site(sandbox):
    st = sandbox.state
    rg = st.add_route_group("RG_TEST")
    trunk = st.add_trunk("TRUNK_TEST")
    loc = st.add_location("CUV93470292900", calling_enabled=False)
    sandbox.log.clear()
    return {"rg": rg, "trunk": trunk, "loc": loc}


def row(route_id: str, **extra: str) -> dict[str, str]:
    return {"name": "CUV93470292900", "premise_route_type": "ROUTE_GROUP", "premise_route_id": route_id,
            "pstn_connection_type": "LOCAL_GATEWAY", **extra}


def lgw_option_id(sandbox, loc: str) -> str:
    (opt,) = [o for o in sandbox.state.pstn_options(loc) if o["pstnConnectionType"] == "LOCAL_GATEWAY"]
    return opt["id"]


def test_enables_calling_then_sets_the_lgw_connection(sandbox, act, site):
    a = act(sandbox, "location.pstn")
    res = a.run(row(site["rg"]))

    assert res.status == "succeeded"
    assert res.result["changed"]["enable_calling"] is True
    assert res.result["location_id"] == site["loc"]
    enable, put = a.writes()
    assert enable[:2] == ("POST", "/v1/telephony/config/locations")
    assert enable[2]["id"] == site["loc"] and enable[2]["timeZone"] == "Europe/Madrid"
    assert put == (
        "PUT",
        f"/v1/telephony/pstn/locations/{site['loc']}/connection",
        {"id": lgw_option_id(sandbox, site["loc"]), "premiseRouteType": "ROUTE_GROUP", "premiseRouteId": site["rg"]},
    )
    loc = sandbox.state.get_location(site["loc"])
    assert loc["_calling"] is True
    assert loc["_pstn"]["pstnConnectionType"] == "LOCAL_GATEWAY"
    assert ids.same(loc["_pstn"]["routeId"], site["rg"]) and loc["_pstn"]["routeType"] == "ROUTE_GROUP"


def test_second_run_is_skipped_without_writes_even_with_padded_route_id(sandbox, act, site):
    act(sandbox, "location.pstn").run(row(site["rg"]))
    sandbox.log.clear()

    again = act(sandbox, "location.pstn")
    res = again.run(row(site["rg"] + "=" * (-len(site["rg"]) % 4)))

    assert res.status == "skipped"
    assert res.result["reason"] == "pstn_already_configured"
    assert again.writes() == []


def test_calling_location_is_not_enabled_again(sandbox, act, site):
    sandbox.state.get_location(site["loc"])["_calling"] = True
    a = act(sandbox, "location.pstn")

    res = a.run(row(site["trunk"], premise_route_type="TRUNK"))

    assert res.status == "succeeded"
    assert "enable_calling" not in res.result["changed"]
    assert [w[:2] for w in a.writes()] == [("PUT", f"/v1/telephony/pstn/locations/{site['loc']}/connection")]
    assert a.writes()[0][2]["premiseRouteType"] == "TRUNK"


def test_option_is_chosen_by_type_not_display_name(sandbox, act, site):
    """The LGW option is renamed: v21 matched "Premises-based PSTN" by display name and would fail."""
    original = sandbox.state.pstn_options

    def renamed(lid):
        return [dict(o, displayName=f"Option {i}") for i, o in enumerate(reversed(original(lid)))]

    sandbox.state.pstn_options = renamed
    a = act(sandbox, "location.pstn")

    assert a.run(row(site["rg"])).status == "succeeded"
    (put,) = a.bodies("PUT", "/connection")
    assert put["id"] == lgw_option_id(sandbox, site["loc"])


def test_changed_route_is_rewritten(sandbox, act, site):
    act(sandbox, "location.pstn").run(row(site["rg"]))
    sandbox.log.clear()
    a = act(sandbox, "location.pstn")

    res = a.run(row(site["trunk"], premise_route_type="TRUNK"))

    assert res.status == "succeeded"
    assert ids.same(sandbox.state.get_location(site["loc"])["_pstn"]["routeId"], site["trunk"])


def test_dry_run_plans_and_writes_nothing(sandbox, act, site):
    a = act(sandbox, "location.pstn", dry_run=True)
    res = a.run(row(site["rg"]))

    assert res.status == "succeeded"
    assert res.planned == {
        "enable_calling": True,
        "connection": {"pstnConnectionType": "LOCAL_GATEWAY", "routeType": "ROUTE_GROUP", "routeId": site["rg"]},
    }
    assert a.writes() == []
    assert sandbox.state.get_location(site["loc"])["_calling"] is False


def test_unknown_route_group_fails_the_row_after_enabling(sandbox, act, site):
    missing = ids.encode("ROUTE_GROUP", "00000000-0000-4000-8000-000000000000")
    a = act(sandbox, "location.pstn")

    with pytest.raises(RowFailure) as err:
        a.run(row(missing))

    assert err.value.http_status == 400
    assert "set the PSTN connection" in err.value.message
    # the same row run again only retries the connection (calling stays enabled)
    sandbox.log.clear()
    with pytest.raises(RowFailure):
        a.run(row(missing))
    assert [w[0:2] for w in a.writes()] == [("PUT", f"/v1/telephony/pstn/locations/{site['loc']}/connection")]


def test_route_id_of_the_wrong_kind_is_a_row_error_before_any_call(sandbox, act, site):
    a = act(sandbox, "location.pstn")
    with pytest.raises(RowFailure) as err:
        a.run(row(site["trunk"], premise_route_type="ROUTE_GROUP"))
    assert err.value.code == "route_type_mismatch"
    assert sandbox.requests() == []


def test_unknown_location_name_is_a_row_error(sandbox, act, site):
    a = act(sandbox, "location.pstn")
    with pytest.raises(RowFailure) as err:
        a.run({**row(site["rg"]), "name": "NOPE"})
    assert err.value.code == "unknown_location"
    assert a.writes() == []


def test_other_rows_of_the_run_are_unaffected_by_a_failing_row(sandbox, act, site):
    other = sandbox.state.add_location("CUV93516754500", calling_enabled=False)
    a = act(sandbox, "location.pstn")
    with pytest.raises(RowFailure):
        a.run({**row(site["rg"]), "name": "NOPE"})
    assert a.run({**row(site["rg"]), "name": "CUV93516754500"}).status == "succeeded"
    assert sandbox.state.get_location(other)["_calling"] is True
    assert sandbox.state.get_location(site["loc"])["_calling"] is False


def test_unknown_location_id_is_a_row_error(sandbox, act, site):
    missing = ids.encode("LOCATION", "00000000-0000-4000-8000-000000000000")
    a = act(sandbox, "location.pstn")
    with pytest.raises(RowFailure) as err:
        a.run({**row(site["rg"]), "name": "", "location_id": missing})
    assert err.value.code == "unknown_location"
    assert a.writes() == []


def test_missing_connection_type_names_the_available_types(sandbox, act, site):
    sandbox.state.get_location(site["loc"])["_calling"] = True
    a = act(sandbox, "location.pstn")
    with pytest.raises(RowFailure) as err:
        a.run(row(site["rg"], pstn_connection_type="NON_INTEGRATED_CCP"))
    assert err.value.code == "pstn_option_not_found"
    assert "NON_INTEGRATED_CCP" in err.value.message
    assert "available: CISCO_CLOUD_CONNECTED_PSTN, LOCAL_GATEWAY" in err.value.message
    assert a.writes() == []


def test_route_group_by_name_when_the_id_is_empty(sandbox, act, site):
    a = act(sandbox, "location.pstn")
    res = a.run({"name": "CUV93470292900", "premise_route_id": "", "route_identity": "RG_TEST"})
    assert res.status == "succeeded"
    (put,) = a.bodies("PUT", "/connection")
    assert (put["premiseRouteType"], put["premiseRouteId"]) == ("ROUTE_GROUP", site["rg"])
    assert [r.query for r in sandbox.requests() if r.path.endswith("/routeChoices")] == [{"routeGroupName": "RG_TEST"}]


def test_trunk_by_name_and_unknown_route_name(sandbox, act, site):
    a = act(sandbox, "location.pstn")
    trunk_row = {"name": "CUV93470292900", "premise_route_type": "TRUNK", "route_identity": "TRUNK_TEST"}
    assert a.run(trunk_row).status == "succeeded"
    assert ids.same(sandbox.state.get_location(site["loc"])["_pstn"]["routeId"], site["trunk"])
    with pytest.raises(RowFailure) as err:
        a.run({"name": "CUV93470292900", "route_identity": "RG_NOPE"})
    assert err.value.code == "unknown_route"
    assert "RG_NOPE" in err.value.message
