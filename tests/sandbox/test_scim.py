"""SCIM users search/create and the Bulk endpoint through the real wxc_sdk."""

from __future__ import annotations

import uuid

import pytest
import requests
from wxc_sdk.rest import RestError
from wxc_sdk.scim.bulk import BulkMethod, BulkOperation
from wxc_sdk.scim.users import EmailObject, EmailObjectType, NameObject, ScimUser, UserTypeObject

from ledger.sandbox import ids


def _user(email: str) -> ScimUser:
    return ScimUser(schemas=["urn:ietf:params:scim:schemas:core:2.0:User"], user_name=email, active=True,
                    name=NameObject(given_name="G", family_name="F"), display_name="G F",
                    emails=[EmailObject(value=email, type=EmailObjectType.work, primary=True)],
                    user_type=UserTypeObject.user)


BULK = ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"]
CORE = ["urn:ietf:params:scim:schemas:core:2.0:User"]


def _op(i, email: str, **data) -> dict:
    return {"method": "POST", "path": "/Users", "bulkId": str(i),
            "data": {"schemas": CORE, "userName": email, "userType": "user", **data}}


def test_search_and_create(sandbox, api):
    org = sandbox.state.org_id
    r = api.scim.users.search(org_id=org, filter='userName eq "s@x.com"', count=1)
    assert r.total_results == 0 and not r.resources
    u = api.scim.users.create(org_id=org, user=_user("s@x.com"))
    assert u.id and u.user_name == "s@x.com"
    # uuid form of the org id works too
    r = api.scim.users.search(org_id=ids.key(org), filter='userName eq "s@x.com"', count=1)
    assert r.total_results == 1 and r.resources[0].id == u.id
    # the SCIM user is a Webex person (same uuid)
    p = sandbox.state.person_by_email("s@x.com")
    assert ids.key(p["id"]) == u.id
    assert sandbox.state.create_count("s@x.com") == 1
    with pytest.raises(RestError) as ei:
        api.scim.users.create(org_id=org, user=_user("s@x.com"))
    assert ei.value.response.status_code == 409


def test_bulk_100_with_partial_failure(sandbox, api):
    org = sandbox.state.org_id
    sandbox.state.add_person("bulk042@x.com")  # exists already -> 409 on that op only
    ops = [BulkOperation(method=BulkMethod.post, path="/Users", bulk_id=f"b{i:03d}",
                         data=_user(f"bulk{i:03d}@x.com").create_update()) for i in range(100)]
    resp = api.scim.bulk.bulk_request(org_id=org, operations=ops, fail_on_errors=100)
    raw = resp.model_extra["Operations"]  # Webex answers "Operations"; wxc_sdk's model expects "operations"
    assert len(raw) == 100
    by_id = {o["bulkId"]: o for o in raw}
    assert set(by_id) == {f"b{i:03d}" for i in range(100)}
    assert [o["bulkId"] for o in raw] != [f"b{i:03d}" for i in range(100)]  # order differs
    assert by_id["b042"]["status"] == "409" and "response" in by_id["b042"]
    ok = [o for o in raw if o["status"] == "201"]
    assert len(ok) == 99 and all("/identity/scim/" in o["location"] for o in ok)
    assert len(sandbox.state.people_by_email("bulk007@x.com")) == 1
    assert sandbox.state.create_count("bulk042@x.com") == 0


def test_bulk_order_is_deterministic_per_seed(sandbox_factory, api_factory):
    orders = []
    for _ in range(2):
        sb = sandbox_factory(seed=7)
        body = {"schemas": BULK, "failOnErrors": 10, "Operations": [_op(i, f"o{i}@x.com") for i in range(10)]}
        r = requests.post(f"{sb.root_url}/identity/scim/{sb.state.org_id}/v2/Bulk", json=body,
                          headers={"Authorization": "Bearer test-token"})
        assert r.status_code == 200
        orders.append([o["bulkId"] for o in r.json()["Operations"]])
    assert orders[0] == orders[1]


def test_bulk_over_100_rejected(sandbox):
    body = {"schemas": BULK, "failOnErrors": 1, "Operations": [_op(i, f"{i}@x") for i in range(101)]}
    r = requests.post(f"{sandbox.root_url}/identity/scim/{sandbox.state.org_id}/v2/Bulk", json=body,
                      headers={"Authorization": "Bearer test-token"})
    assert r.status_code == 413


def test_bulk_operation_without_user_type_fails_naming_the_field(sandbox):
    ops = [_op(1, "ok@x.com"), {"method": "POST", "path": "/Users", "bulkId": "2",
                                "data": {"schemas": CORE, "userName": "no-type@x.com"}}]
    r = requests.post(f"{sandbox.root_url}/identity/scim/{sandbox.state.org_id}/v2/Bulk",
                      json={"schemas": BULK, "failOnErrors": 2, "Operations": ops},
                      headers={"Authorization": "Bearer test-token"})
    assert r.status_code == 200
    by_id = {o["bulkId"]: o for o in r.json()["Operations"]}
    assert by_id["1"]["status"] == "201"
    assert by_id["2"]["status"] == "400" and "userType" in by_id["2"]["response"]["detail"]
    assert sandbox.state.people_by_email("no-type@x.com") == []


def test_reaching_fail_on_errors_ends_the_bulk_with_an_error_listing_what_was_processed(sandbox):
    sandbox.state.add_person("dup@x.com")
    ops = [_op(1, "dup@x.com"), _op(2, "new1@x.com"), _op(3, "new2@x.com")]
    r = requests.post(f"{sandbox.root_url}/identity/scim/{sandbox.state.org_id}/v2/Bulk",
                      json={"schemas": BULK, "failOnErrors": 1, "Operations": ops},
                      headers={"Authorization": "Bearer test-token"})
    assert r.status_code == 400 and "failOnErrors" in r.json()["detail"]
    assert [(o["bulkId"], o["status"]) for o in r.json()["Operations"]] == [("1", "409")]
    assert sandbox.state.people_by_email("new1@x.com") == []  # not processed


def test_unknown_org_404(sandbox, api):
    with pytest.raises(RestError) as ei:
        api.scim.users.search(org_id=str(uuid.uuid4()), filter='userName eq "a@b.c"')
    assert ei.value.response.status_code == 404
    _ = UserTypeObject
