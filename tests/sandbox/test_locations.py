"""Locations and location telephony (§3.1–3.5 flows) through the real wxc_sdk."""

from __future__ import annotations

import pytest
from wxc_sdk.common import RouteIdentity, RouteType
from wxc_sdk.person_settings.permissions_out import CallingPermissions, OutgoingPermissions
from wxc_sdk.rest import RestError
from wxc_sdk.telephony.location import CallingLineId, TelephonyLocation
from wxc_sdk.telephony.location.internal_dialing import InternalDialing

from ledger.sandbox import ids


def test_pstn_flow_enable_then_route_group(sandbox, api):
    st = sandbox.state
    lid = st.add_location("CUV1")
    rg = st.add_route_group("RG_TEST")
    assert [l.location_id for l in api.locations.list(name="CUV1")] == [lid]
    with pytest.raises(RestError) as ei:
        api.telephony.location.details(lid)
    assert ei.value.response.status_code in (400, 404)
    loc = api.locations.details(lid)
    assert loc.address.postal_code == "08001" and loc.time_zone
    assert loc.announcement_language is None  # GET /locations does not return the languages
    with pytest.raises(RestError) as ei:  # wxc_sdk 1.41 posts the location as read: no languages, plus orgId
        api.telephony.location.enable_for_calling(loc)
    assert ei.value.response.status_code == 400 and "announcementLanguage" in ei.value.description
    body = {"id": lid, "name": loc.name, "timeZone": loc.time_zone, "announcementLanguage": "es_es",
            "preferredLanguage": "es_ES", "address": loc.address.model_dump(mode="json", by_alias=True,
                                                                          exclude_none=True)}
    assert api.session.rest_post(api.session.ep("telephony/config/locations"), json=body)["id"] == lid
    assert api.telephony.location.details(lid).location_id == lid
    with pytest.raises(RestError) as ei:  # already enabled
        api.session.rest_post(api.session.ep("telephony/config/locations"), json=body)
    assert ei.value.response.status_code == 409
    # a local gateway: route type + route id, no option id (pstn_auto.py)
    api.telephony.pstn.configure(lid, premise_route_type="ROUTE_GROUP", premise_route_id=rg)
    conn = api.telephony.pstn.read(lid)
    assert conn.route_id == rg and conn.route_type == "ROUTE_GROUP" and conn.pstn_connection_type == "LOCAL_GATEWAY"
    with pytest.raises(RestError):
        api.telephony.pstn.configure(lid, premise_route_type="ROUTE_GROUP", premise_route_id=ids.make_id("ROUTE_GROUP"))
    with pytest.raises(RestError) as ei:
        api.telephony.pstn.configure(lid, premise_route_type="ROUTE_GROUP")
    assert "premiseRouteId" in ei.value.description
    assert api.telephony.location.details(lid).connection.id == rg


def test_create_location_and_update(sandbox, api):
    lid = api.locations.create(name="NEW", time_zone="Europe/Madrid", preferred_language="es_ES",
                               announcement_language="es_es", address1="a", city="c", state="s",
                               postal_code="08950", country="ES")
    loc = api.locations.details(lid)
    assert loc.name == "NEW"
    loc.name = "NEW2"
    api.locations.update(lid, loc)
    assert sandbox.state.get_location(lid)["name"] == "NEW2"


def test_numbers_add_success_and_inventory(sandbox, api, calling_loc):
    r = api.telephony.location.number.add(calling_loc, ["+34931111111", "+34931111112", "+34931000000"])
    assert r.errors == []
    nums = {n.phone_number: n for n in api.telephony.phone_numbers(location_id=calling_loc)}
    assert {"+34931111111", "+34931111112", "+34931000000"} <= set(nums)
    n = nums["+34931111111"]
    assert n.state == "INACTIVE" and n.main_number is False and n.location.id == calling_loc
    one = list(api.telephony.phone_numbers(phone_number="+34931111112"))
    assert len(one) == 1


def test_numbers_add_swallowed_400_has_per_number_errors(sandbox, api, calling_loc):
    r = api.telephony.location.number.add(calling_loc, ["+34931111113", "+14155550100", "12345"])
    bad = {e.number: e for e in r.errors}
    assert set(bad) == {"+14155550100", "12345"}
    assert bad["+14155550100"].error_code and bad["12345"].error_message
    req = [x for x in sandbox.requests() if x.path.endswith("/numbers") and x.method == "POST"][-1]
    assert req.status == 400
    assert "+34931111113" in sandbox.state.numbers  # the valid one was added
    nocall = sandbox.state.add_location("NOCALL")
    r = api.telephony.location.number.add(nocall, ["+34932222222"])
    assert r.errors and r.errors[0].number == "+34932222222"
    assert "+34932222222" not in sandbox.state.numbers


def test_calling_line_id(sandbox, api, calling_loc):
    api.telephony.location.update(calling_loc, TelephonyLocation(
        calling_line_id=CallingLineId(phone_number="+34931000001")))
    assert api.telephony.location.details(calling_loc).calling_line_id.phone_number == "+34931000001"
    nums = {n.phone_number: n for n in api.telephony.phone_numbers(location_id=calling_loc)}
    assert nums["+34931000001"].main_number is True
    with pytest.raises(RestError) as ei:
        api.telephony.location.update(calling_loc, TelephonyLocation(
            calling_line_id=CallingLineId(phone_number="+34939999999")))
    assert ei.value.response.status_code == 400 and ei.value.code == 25374


def test_internal_dialing(sandbox, api, calling_loc):
    rg = sandbox.state.add_route_group("RG")
    cur = api.telephony.location.internal_dialing.read(calling_loc)
    assert cur.enable_unknown_extension_route_policy is False
    api.telephony.location.internal_dialing.update(calling_loc, InternalDialing(
        enable_unknown_extension_route_policy=True,
        unknown_extension_route_identity=RouteIdentity(id=rg, type=RouteType.route_group)))
    cur = api.telephony.location.internal_dialing.read(calling_loc)
    assert cur.enable_unknown_extension_route_policy and cur.unknown_extension_route_identity.route_id == rg
    with pytest.raises(RestError):
        api.telephony.location.internal_dialing.update(calling_loc, InternalDialing(
            enable_unknown_extension_route_policy=True,
            unknown_extension_route_identity=RouteIdentity(id=ids.make_id("ROUTE_GROUP"),
                                                           type=RouteType.route_group)))


def test_location_outgoing_permission_by_uuid(sandbox, api, calling_loc):
    uuid = ids.key(calling_loc)
    perms = api.telephony.location.permissions_out.read(uuid)
    assert perms.calling_permissions
    with pytest.raises(RestError) as ei:  # wxc_sdk 1.41 sends useCustom* and LOCAL/TOLL: not in the contract
        api.telephony.location.permissions_out.configure(uuid, OutgoingPermissions(
            use_custom_enabled=True, use_custom_permissions=True, calling_permissions=CallingPermissions.allow_all()))
    assert ei.value.response.status_code == 400 and "useCustomEnabled" in ei.value.description
    body = {"callingPermissions": [{"callType": "INTERNATIONAL", "action": "ALLOW", "transferEnabled": True}]}
    api.session.rest_put(api.session.ep(f"telephony/config/locations/{uuid}/outgoingPermission"), json=body)
    back = api.telephony.location.permissions_out.read(calling_loc)
    assert back.calling_permissions.for_call_type("INTERNATIONAL").action == "ALLOW"


def test_route_choices_and_groups(sandbox, api):
    rg = sandbox.state.add_route_group("RG_TEST")
    tr = sandbox.state.add_trunk("T1")
    choices = {c.route_id: c for c in api.telephony.route_choices()}
    assert choices[rg].route_type == "ROUTE_GROUP" and choices[rg].name == "RG_TEST"
    assert choices[tr].route_type == "TRUNK"
    assert [g.rg_id for g in api.telephony.prem_pstn.route_group.list()] == [rg]
