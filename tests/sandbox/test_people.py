"""People, licences, /people/me, errors and pagination through the real wxc_sdk."""

from __future__ import annotations

import pytest
import requests
from wxc_sdk.licenses import LicenseProperties, LicenseRequest, LicenseRequestOperation
from wxc_sdk.people import Person, PhoneNumber
from wxc_sdk.rest import RestError

from .conftest import make_api


def test_create_list_get_update_and_exact_state_and_log(sandbox, api):
    for i in range(3):
        p = api.people.create(Person(emails=[f"u{i}@x.com"], first_name="U", last_name=str(i),
                                     display_name=f"U {i}"))
        assert p.person_id and p.emails == [f"u{i}@x.com"]
    assert len([p for p in sandbox.state.people.values() if p["emails"][0].startswith("u")]) == 3
    posts = [r for r in sandbox.requests() if r.method == "POST" and r.path == "/v1/people"]
    assert [r.body["emails"] for r in posts] == [["u0@x.com"], ["u1@x.com"], ["u2@x.com"]]
    assert all(r.status == 200 and r.tracking_id.startswith("SIMPLE_") for r in posts)
    assert sandbox.state.create_count("u1@x.com") == 1

    found = list(api.people.list(email="u1@x.com"))
    assert len(found) == 1 and found[0].display_name == "U 1"
    details = api.people.details(found[0].person_id, calling_data=True)
    assert details.emails == ["u1@x.com"]
    # padded id works too
    padded = found[0].person_id + "=" * (-len(found[0].person_id) % 4)
    assert api.people.details(padded).person_id == found[0].person_id
    details.display_name = "Renamed"
    upd = api.people.update(details)
    assert upd.display_name == "Renamed"
    assert sandbox.state.person_by_email("u1@x.com")["displayName"] == "Renamed"


def test_409_on_existing_email(sandbox, api):
    sandbox.state.add_person("dup@x.com", first_name="D")
    with pytest.raises(RestError) as ei:
        api.people.create(Person(emails=["dup@x.com"], display_name="D"))
    e = ei.value
    assert e.response.status_code == 409
    assert e.detail.tracking_id and e.response.headers["TrackingID"]
    assert e.response.headers["Content-Type"].startswith("application/json")
    assert sandbox.state.create_count("dup@x.com") == 0


def test_404_and_401(sandbox, api):
    with pytest.raises(RestError) as ei:
        api.people.details("Y2lzY29zcGFyazovL3VzL1BFT1BMRS8wMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA")
    assert ei.value.response.status_code == 404 and ei.value.code == 4008
    bad = make_api(sandbox, token="wrong")
    with pytest.raises(RestError) as ei:
        bad.people.me()
    assert ei.value.response.status_code == 401
    assert ei.value.detail.message
    r = requests.get(sandbox.base_url + "/people/me")
    assert r.status_code == 401 and r.json()["trackingId"]


def test_me(api, sandbox):
    me = api.people.me()
    assert me.person_id == sandbox.state.me_id


def test_pagination_follows_link(sandbox, api):
    for i in range(25):
        sandbox.state.add_person(f"p{i:02d}@x.com")
    people = list(api.people.list(max=10))
    assert len(people) == 25  # me is not listed
    gets = [r for r in sandbox.requests() if r.path == "/v1/people"]
    assert len(gets) == 3 and gets[1].query["start"] == "10"


def test_org_id_and_org_id_snake(sandbox, api):
    sandbox.state.add_person("a@x.com")
    assert len(list(api.people.list(email="a@x.com", org_id=sandbox.state.org_id))) == 1
    r = requests.get(sandbox.base_url + "/people", params={"org_id": "bm9wZQ"},
                     headers={"Authorization": "Bearer test-token"})
    assert r.status_code == 404


def test_create_with_calling_data(sandbox, api, calling_loc):
    bcstd = sandbox.state.license_by_sku("BCSTD")["id"]
    p = api.people.create(Person(emails=["c@x.com"], display_name="C", location_id=calling_loc, extension="1001",
                                 licenses=[bcstd]), calling_data=True)
    assert p.location_id == calling_loc and p.extension == "1001"
    # same extension in the same location -> 400
    with pytest.raises(RestError) as ei:
        api.people.create(Person(emails=["d@x.com"], display_name="D", location_id=calling_loc,
                                 extension="1001", licenses=[bcstd]), calling_data=True)
    assert ei.value.response.status_code == 400 and ei.value.code == 4726
    # a calling licence without location -> 400
    with pytest.raises(RestError):
        api.people.create(Person(emails=["e@x.com"], display_name="E", licenses=[bcstd]), calling_data=True)
    # without callingData the location is not shown
    assert api.people.details(p.person_id).location_id is None
    assert api.people.details(p.person_id, calling_data=True).extension == "1001"
    # work number from the inventory
    p2 = api.people.create(Person(emails=["f@x.com"], display_name="F", location_id=calling_loc, licenses=[bcstd],
                                  phone_numbers=[PhoneNumber(number_type="work", value="+34931000003")]),
                           calling_data=True)
    assert p2.phone_numbers[0].value == "+34931000003"
    nums = {n.phone_number: n for n in api.telephony.phone_numbers(location_id=calling_loc)}
    assert nums["+34931000003"].owner.owner_id == p2.person_id


def test_licenses_list_and_assign(sandbox, api, calling_loc):
    lics = {l.name: l for l in api.licenses.list()}
    assert {"Webex Calling - Professional", "Call on Webex (1:1 call, non-PSTN)",
            "Webex Calling - Workspaces"} <= set(lics)
    bcstd = lics["Webex Calling - Professional"].license_id
    ftc = lics["Call on Webex (1:1 call, non-PSTN)"].license_id
    pid = sandbox.state.add_person("l@x.com", licenses=[ftc])
    with pytest.raises(RestError) as ei:
        api.licenses.assign_licenses_to_users(person_id=pid, licenses=[LicenseRequest(id=bcstd)])
    assert ei.value.response.status_code == 400
    r = api.licenses.assign_licenses_to_users(person_id=pid, licenses=[
        LicenseRequest(id=bcstd, properties=LicenseProperties(location_id=calling_loc, extension="2001")),
        LicenseRequest(id=ftc, operation=LicenseRequestOperation.remove)])
    assert r.person_id == pid and bcstd in r.licenses and ftc not in r.licenses
    p = api.people.details(pid, calling_data=True)
    assert p.location_id == calling_loc and p.extension == "2001" and p.licenses == [bcstd]
    # remove the calling licence -> no longer a calling user
    api.licenses.assign_licenses_to_users(email="l@x.com", licenses=[
        LicenseRequest(id=bcstd, operation=LicenseRequestOperation.remove)])
    p = api.people.details(pid, calling_data=True)
    assert p.location_id is None and p.licenses == []


def test_calling_license_to_non_calling_location_is_400(sandbox, api):
    lid = sandbox.state.add_location("NOCALL")
    bcstd = sandbox.state.license_by_sku("BCSTD")["id"]
    pid = sandbox.state.add_person("n@x.com")
    with pytest.raises(RestError) as ei:
        api.licenses.assign_licenses_to_users(person_id=pid, licenses=[
            LicenseRequest(id=bcstd, properties=LicenseProperties(location_id=lid, extension="1"))])
    assert ei.value.response.status_code == 400


def test_concurrent_creates_same_email_exactly_one_wins(sandbox):
    import concurrent.futures as cf

    def create(_):
        return requests.post(sandbox.base_url + "/people", json={"emails": ["race@x.com"], "displayName": "R"},
                             headers={"Authorization": "Bearer test-token"}).status_code

    with cf.ThreadPoolExecutor(16) as ex:
        codes = list(ex.map(create, range(32)))
    assert sorted(codes) == [200] + [409] * 31
    assert sandbox.state.create_count("race@x.com") == 1 and len(sandbox.state.people_by_email("race@x.com")) == 1


def test_delete_frees_the_licence_unit_and_the_number(sandbox, api, calling_loc):
    lic = sandbox.state.license_by_sku("BCSTD")
    pid = sandbox.state.add_person("gone@x.com", location_id=calling_loc, extension="1234", calling=True,
                                   phone_number="+34931000001")
    used = lic["consumedUnits"]
    api.people.delete_person(pid)
    assert sandbox.state.person_by_email("gone@x.com") is None
    assert lic["consumedUnits"] == used - 1
    assert sandbox.state.numbers["+34931000001"]["_owner"] is None
    delete = [r for r in sandbox.requests() if r.method == "DELETE"]
    assert [r.status for r in delete] == [204]
