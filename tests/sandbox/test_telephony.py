"""Move-users jobs and person features (numbers, forwarding, outgoing permissions) via the real wxc_sdk."""

from __future__ import annotations

import pytest
import requests
from wxc_sdk.person_settings.forwarding import PersonForwardingSetting
from wxc_sdk.person_settings.numbers import UpdatePersonNumbers, UpdatePersonPhoneNumber
from wxc_sdk.person_settings.permissions_out import (Action, CallingPermissions, OutgoingPermissionCallType,
                                                     OutgoingPermissions)
from wxc_sdk.rest import RestError
from wxc_sdk.telephony.jobs import MoveUser, MoveUsersList


@pytest.fixture
def calling_user(sandbox, calling_loc):
    return sandbox.state.add_person("cu@x.com", first_name="C", last_name="U", location_id=calling_loc,
                                    extension="1001", calling=True)


def test_move_users(sandbox, api, calling_loc, calling_user):
    target = sandbox.state.add_location("TARGET", calling_enabled=True)
    # same location -> error 25378 in usersList
    r = api.telephony.jobs.move_users.validate_or_initiate([MoveUsersList(
        location_id=calling_loc, validate_only=False, users=[MoveUser(user_id=calling_user, extension="1001")])])
    assert r.users_list[0].errors[0].code == 25378 and r.job_details is None
    # validate only -> no change
    r = api.telephony.jobs.move_users.validate_or_initiate([MoveUsersList(
        location_id=target, validate_only=True, users=[MoveUser(user_id=calling_user)])])
    assert not r.users_list[0].errors and r.job_details is None
    assert sandbox.state.get_person(calling_user)["locationId"] == calling_loc
    r = api.telephony.jobs.move_users.validate_or_initiate([MoveUsersList(
        location_id=target, validate_only=False, users=[MoveUser(user_id=calling_user, extension="1001")])])
    assert r.job_details.id and r.job_details.latest_execution_status == "STARTING"
    # the job runs over several status reads (state/jobs.py); the user moves when it completes
    statuses = [api.telephony.jobs.move_users.status(r.job_details.id).latest_execution_status for _ in range(3)]
    assert statuses == ["STARTED", "STARTED", "COMPLETED"]
    assert api.people.details(calling_user, calling_data=True).location_id == target
    # a non-calling user -> 1026010
    plain = sandbox.state.add_person("plain@x.com")
    r = api.telephony.jobs.move_users.validate_or_initiate([MoveUsersList(
        location_id=target, validate_only=False, users=[MoveUser(user_id=plain)])])
    assert r.users_list[0].errors[0].code == 1026010


def test_person_numbers(sandbox, api, calling_loc, calling_user):
    nums = api.person_settings.numbers.read(calling_user)
    assert nums.phone_numbers[0].primary is True and nums.phone_numbers[0].extension == "1001"
    api.person_settings.numbers.update(calling_user, UpdatePersonNumbers(
        enable_distinctive_ring_pattern=nums.distinctive_ring_enabled,
        phone_numbers=[UpdatePersonPhoneNumber(primary=False, action="ADD", external="+34931000002")]))
    nums = api.person_settings.numbers.read(calling_user)
    alt = [n for n in nums.phone_numbers if not n.primary]
    assert [n.direct_number for n in alt] == ["+34931000002"]
    assert sandbox.state.numbers["+34931000002"]["_owner"]["id"] == calling_user
    with pytest.raises(RestError) as ei:  # not in the location's inventory
        api.person_settings.numbers.update(calling_user, UpdatePersonNumbers(
            phone_numbers=[UpdatePersonPhoneNumber(primary=False, action="ADD", external="+34939999999")]))
    assert ei.value.response.status_code == 400


def test_forwarding_full_object_or_only_what_changes(sandbox, api, calling_user):
    fwd = api.person_settings.forwarding.read(calling_user)
    assert fwd.call_forwarding.always.enabled is False and fwd.business_continuity.enabled is False
    fwd.call_forwarding.always.enabled = True
    fwd.call_forwarding.always.destination = "530347245"
    api.person_settings.forwarding.configure(calling_user, fwd)
    back = api.person_settings.forwarding.read(calling_user)
    assert back.call_forwarding.always.enabled and back.call_forwarding.always.destination == "530347245"
    # every field of the PUT body is optional (contract.json, user-call-settings_auto.py): `always` alone
    # sets what it carries and keeps the rest; an enabled forward without a destination is refused
    sandbox.state.forwarding_of(calling_user)["callForwarding"]["busy"].update(enabled=True, destination="9")
    url, auth = f"{sandbox.base_url}/people/{calling_user}/features/callForwarding", {"Authorization": "Bearer test-token"}
    r = requests.put(url, json={"callForwarding": {"always": {"enabled": True, "destination": "1"}}}, headers=auth)
    assert r.status_code == 204
    now = sandbox.state.forwarding_of(calling_user)["callForwarding"]
    assert (now["always"]["destination"], now["busy"]["enabled"], now["busy"]["destination"]) == ("1", True, "9")
    r = requests.put(url, json={"callForwarding": {"noAnswer": {"enabled": True, "destination": ""}}}, headers=auth)
    assert r.status_code == 400 and "noAnswer.destination" in r.json()["errors"][0]["description"]
    r = requests.put(url, json={"callForwarding": {"always": {"enabled": "yes"}}}, headers=auth)
    assert r.status_code == 400
    r = requests.put(url, json={"businessContinuity": {"enabled": "yes"}}, headers=auth)
    assert r.status_code == 400
    assert sandbox.state.forwarding_of(calling_user)["callForwarding"]["noAnswer"]["enabled"] is False
    default = PersonForwardingSetting.default()
    api.person_settings.forwarding.configure(calling_user, default)
    assert sandbox.state.forwarding_of(calling_user)["callForwarding"]["always"]["enabled"] is False
    # a non-calling user has no forwarding
    plain = sandbox.state.add_person("p@x.com")
    with pytest.raises(RestError):
        api.person_settings.forwarding.read(plain)


def test_person_outgoing_permissions_both_paths(sandbox, api, calling_user):
    perms = api.person_settings.permissions_out.read(calling_user)
    assert perms.calling_permissions.for_call_type(OutgoingPermissionCallType.international)
    cp = CallingPermissions.allow_all()
    cp.for_call_type(OutgoingPermissionCallType.international).action = Action.block
    with pytest.raises(RestError) as ei:  # wxc_sdk 1.41 serialises LOCAL and TOLL: not documented call types
        api.person_settings.permissions_out.configure(calling_user, OutgoingPermissions(
            use_custom_enabled=True, use_custom_permissions=True, calling_permissions=cp))
    assert ei.value.response.status_code == 400 and "'LOCAL'" in ei.value.description
    body = {"useCustomEnabled": True, "useCustomPermissions": True,
            "callingPermissions": [{"callType": "INTERNATIONAL", "action": "BLOCK", "transferEnabled": False}]}
    api.session.rest_put(api.session.ep(f"telephony/config/people/{calling_user}/outgoingPermission"), json=body)
    back = api.person_settings.permissions_out.read(calling_user)
    assert back.use_custom_enabled is True
    assert back.calling_permissions.for_call_type(OutgoingPermissionCallType.international).action == "BLOCK"
    r = requests.get(f"{sandbox.base_url}/people/{calling_user}/features/outgoingPermission",
                     headers={"Authorization": "Bearer test-token"})
    assert r.status_code == 200 and r.json()["useCustomEnabled"] is True
    r = requests.put(f"{sandbox.base_url}/telephony/config/people/{calling_user}/outgoingPermission",
                     json={"callingPermissions": [{"callType": "INTERNATIONAL", "action": "MAYBE"}]},
                     headers={"Authorization": "Bearer test-token"})
    assert r.status_code == 400


def test_flat_forwarding_endpoint(sandbox, calling_user):
    h = {"Authorization": "Bearer test-token"}
    r = requests.put(f"{sandbox.base_url}/telephony/config/people/{calling_user}/callForwarding", headers=h,
                     json={"enabled": True, "destination": "5301", "ringReminderEnabled": False,
                           "destinationVoicemailEnabled": False})
    assert r.status_code == 204
    assert sandbox.state.forwarding_of(calling_user)["callForwarding"]["always"]["destination"] == "5301"
