"""location.pstn against the sandbox: enable calling (with the languages the contract requires), a local
gateway by route type + route id, a cloud-connected option by id/name, skipped when equal."""

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


GLOBAL = {"announcement_language": "ca_es", "preferred_language": "es_ES"}  # as tests/data/samples/global.csv


def row(route_id: str, **extra: str) -> dict[str, str]:
    return {"name": "CUV93470292900", "premise_route_type": "ROUTE_GROUP", "premise_route_id": route_id,
            "pstn_connection_type": "LOCAL_GATEWAY", **GLOBAL, **extra}


def test_enables_calling_then_sets_the_lgw_connection(sandbox, act, site):
    a = act(sandbox, "location.pstn")
    res = a.run(row(site["rg"]))

    assert res.status == "succeeded"
    assert res.result["changed"]["enable_calling"] is True
    assert res.result["location_id"] == site["loc"]
    enable, put = a.writes()
    assert enable[:2] == ("POST", "/v1/telephony/config/locations")
    assert enable[2]["id"] == site["loc"] and enable[2]["timeZone"] == "Europe/Madrid"
    assert (enable[2]["announcementLanguage"], enable[2]["preferredLanguage"]) == ("ca_es", "es_ES")
    assert set(enable[2]) == {"id", "name", "timeZone", "announcementLanguage", "preferredLanguage", "address"}
    # a local gateway: route type + route id, no option id (pstn_auto.py: id only for cloud-connected)
    assert put == (
        "PUT",
        f"/v1/telephony/pstn/locations/{site['loc']}/connection",
        {"premiseRouteType": "ROUTE_GROUP", "premiseRouteId": site["rg"]},
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


def test_languages_from_global_csv_when_the_row_has_none(sandbox, act, site):
    a = act(sandbox, "location.pstn")
    raw = {k: v for k, v in row(site["rg"]).items() if k not in GLOBAL}
    assert a.run(raw, GLOBAL).status == "succeeded"
    (enable,) = a.bodies("POST", "/telephony/config/locations")
    assert enable["announcementLanguage"] == "ca_es"


@pytest.mark.parametrize("missing", ["announcement_language", "preferred_language"])
def test_enabling_without_a_language_is_a_row_error_naming_the_column(sandbox, act, site, missing):
    """Old code posted the location as GET /locations returned it (no languages) and got Webex's 400."""
    a = act(sandbox, "location.pstn")
    with pytest.raises(RowFailure) as err:
        a.run({**row(site["rg"]), missing: ""})
    assert err.value.code == "missing_language"
    assert missing in err.value.message and "global.csv" in err.value.message
    assert a.writes() == []
    assert sandbox.state.get_location(site["loc"])["_calling"] is False


def test_locations_read_has_no_languages_and_options_have_no_connection_type(sandbox, site):
    import requests

    auth = {"Authorization": f"Bearer {sandbox.token}"}
    loc = requests.get(f"{sandbox.base_url}/locations/{site['loc']}", headers=auth, timeout=5).json()
    assert "announcementLanguage" not in loc and "preferredLanguage" not in loc
    sandbox.state.get_location(site["loc"])["_calling"] = True
    items = requests.get(f"{sandbox.base_url}/telephony/pstn/locations/{site['loc']}/connectionOptions",
                         headers=auth, timeout=5).json()["items"]
    assert items and all(set(o) == {"id", "displayName", "pstnServices"} for o in items)


def test_cloud_connected_option_by_display_name(sandbox, act, site):
    sandbox.state.get_location(site["loc"])["_calling"] = True
    a = act(sandbox, "location.pstn")
    res = a.run({"name": "CUV93470292900", "pstn_connection_type": "NON_INTEGRATED_CCP",
                 "pstn_option": "Sandbox Cloud PSTN"})
    assert res.status == "succeeded"
    (put,) = a.bodies("PUT", "/connection")
    (option,) = [o for o in sandbox.state.pstn_options(site["loc"]) if o["displayName"] == "Sandbox Cloud PSTN"]
    assert put == {"id": option["id"]}
    assert sandbox.state.get_location(site["loc"])["_pstn"]["pstnConnectionType"] == "NON_INTEGRATED_CCP"
    sandbox.log.clear()
    again = act(sandbox, "location.pstn").run({"name": "CUV93470292900", "pstn_connection_type": "NON_INTEGRATED_CCP",
                                               "pstn_option": "Sandbox Cloud PSTN"})
    assert again.status == "skipped"


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


def test_several_options_without_a_choice_name_the_options(sandbox, act, site):
    sandbox.state.get_location(site["loc"])["_calling"] = True
    a = act(sandbox, "location.pstn")
    with pytest.raises(RowFailure) as err:
        a.run(row(site["rg"], pstn_connection_type="NON_INTEGRATED_CCP"))
    assert err.value.code == "pstn_option_not_found"
    assert "'Premises-based PSTN', 'Sandbox Cloud PSTN'" in err.value.message and "pstn_option" in err.value.message
    assert a.writes() == []


def test_route_group_by_name_when_the_id_is_empty(sandbox, act, site):
    a = act(sandbox, "location.pstn")
    res = a.run({"name": "CUV93470292900", "premise_route_id": "", "route_identity": "RG_TEST", **GLOBAL})
    assert res.status == "succeeded"
    (put,) = a.bodies("PUT", "/connection")
    assert (put["premiseRouteType"], put["premiseRouteId"]) == ("ROUTE_GROUP", site["rg"])
    assert [r.query for r in sandbox.requests() if r.path.endswith("/routeChoices")] == [{"routeGroupName": "RG_TEST"}]


def test_trunk_by_name_and_unknown_route_name(sandbox, act, site):
    a = act(sandbox, "location.pstn")
    trunk_row = {"name": "CUV93470292900", "premise_route_type": "TRUNK", "route_identity": "TRUNK_TEST", **GLOBAL}
    assert a.run(trunk_row).status == "succeeded"
    assert ids.same(sandbox.state.get_location(site["loc"])["_pstn"]["routeId"], site["trunk"])
    with pytest.raises(RowFailure) as err:
        a.run({"name": "CUV93470292900", "route_identity": "RG_NOPE"})
    assert err.value.code == "unknown_route"
    assert "RG_NOPE" in err.value.message
