"""user.create against the sandbox: exact bodies, read-before-write, ambiguous writes, dry run."""

from __future__ import annotations

import pytest

from ledger.errors import RowFailure, TransientFailure
from ledger.sandbox import FaultConfig


@pytest.fixture
def site(sandbox):
    st = sandbox.state
    loc = st.add_location("BCN-01", calling_enabled=True)
    bcstd = st.license_by_sku("BCSTD")["id"]
    sandbox.log.clear()
    return {"loc": loc, "bcstd": bcstd}


ROW = {"email": "Ana.Ruiz@Example.com", "first_name": "Ana", "last_name": "Ruiz"}


def test_creates_with_calling_data_and_sends_exactly_the_row(sandbox, act, site):
    a = act(sandbox, "user.create")
    res = a.run({**ROW, "location_name": "BCN-01", "extension": "80347245", "licenses": site["bcstd"]})

    person = sandbox.state.person_by_email("ana.ruiz@example.com")
    assert res.status == "succeeded"
    assert res.result["person_id"] == person["id"]
    assert a.bodies("POST", "/people") == [
        {
            "emails": ["ana.ruiz@example.com"],
            "firstName": "Ana",
            "lastName": "Ruiz",
            "displayName": "Ana Ruiz",
            "locationId": site["loc"],
            "extension": "80347245",
            "licenses": [site["bcstd"]],
        }
    ]
    post = [r for r in sandbox.requests() if r.method == "POST"][0]
    assert post.query.get("callingData") == "true"
    assert person["extension"] == "80347245"


def test_second_run_writes_nothing(sandbox, act, site):
    act(sandbox, "user.create").run(ROW)
    sandbox.log.clear()

    again = act(sandbox, "user.create")
    res = again.run(ROW)

    assert res.status == "skipped"
    assert res.result["reason"] == "user_already_exists"
    assert again.writes() == []
    assert sandbox.state.create_count("ana.ruiz@example.com") == 1


def test_unknown_location_is_a_row_error(sandbox, act, site):
    with pytest.raises(RowFailure, match="unknown location 'NOWHERE'"):
        act(sandbox, "user.create").run({**ROW, "location_name": "NOWHERE", "extension": "1234"})
    assert sandbox.state.create_count("ana.ruiz@example.com") == 0


def test_lost_answer_is_ambiguous_and_the_retry_does_not_create_twice(sandbox, act, lose, site):
    a = act(sandbox, "user.create")
    lose(a, 2)  # request 1 = lookup by email, request 2 = the POST: applied, answer dropped
    with pytest.raises(TransientFailure) as info:
        a.run(ROW)
    assert info.value.ambiguous

    res = a.run(ROW)  # what the retry policy does next: execute() again, which reads first

    assert res.status == "skipped"
    assert sandbox.state.create_count("ana.ruiz@example.com") == 1


def test_webex_rejection_without_a_created_user_fails_the_row(sandbox, act, site):
    sandbox.faults = FaultConfig(row_errors={"ana.ruiz@example.com"})
    with pytest.raises(RowFailure) as info:
        act(sandbox, "user.create").run(ROW)
    assert info.value.http_status == 400
    assert info.value.tracking_id
    assert sandbox.state.create_count("ana.ruiz@example.com") == 0


def test_dry_run_plans_and_writes_nothing(sandbox, act, site):
    a = act(sandbox, "user.create", dry_run=True)
    res = a.run(ROW)
    assert res.planned == {
        "emails": ["ana.ruiz@example.com"],
        "firstName": "Ana",
        "lastName": "Ruiz",
        "displayName": "Ana Ruiz",
    }
    assert a.writes() == []


def test_a_400_on_create_with_calling_data_is_rechecked_by_email(sandbox, act, site):
    sandbox.faults = FaultConfig(created_400={"ana.ruiz@example.com"})
    res = act(sandbox, "user.create").run(
        {**ROW, "location_name": "BCN-01", "extension": "80347245", "licenses": site["bcstd"]}
    )

    person = sandbox.state.person_by_email("ana.ruiz@example.com")
    assert res.status == "succeeded"
    assert res.result["person_id"] == person["id"]
    assert "HTTP 400" in res.result["note"]
    assert sandbox.state.create_count("ana.ruiz@example.com") == 1


def test_create_answered_without_a_requested_licence_fails_naming_it(sandbox, act):
    """POST /people answered 200 with only some licences: old code ended the row `succeeded`."""
    from ledger.errors import RowFailure
    from ledger.sandbox import FaultConfig

    st = sandbox.state
    ftc = st.license_by_sku("FTC")["id"]
    sandbox.faults = FaultConfig(licenses_partial={"eva@example.com:FTC"})
    a = act(sandbox, "user.create")
    row = {"email": "eva@example.com", "first_name": "Eva", "last_name": "Sanz", "licenses": ftc}
    with pytest.raises(RowFailure) as err:
        a.run(row)
    assert err.value.code == "license_not_applied"
    assert ftc in err.value.message and "Call on Webex" in err.value.message
    assert "the user was created" in err.value.message and "user.licenses" in err.value.detail["fix"]
    assert st.person_by_email("eva@example.com")["licenses"] == []
    # a retry finds the user and still says what is missing (never `skipped` as if all were done)
    sandbox.faults = FaultConfig()
    with pytest.raises(RowFailure) as again:
        act(sandbox, "user.create").run(row)
    assert again.value.code == "license_not_applied" and "already exists" in again.value.message
