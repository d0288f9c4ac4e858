"""location.numbers against the sandbox: only missing numbers sent, INACTIVE, swallowed HTTP 400 detected."""

from __future__ import annotations

import pytest

from ledger.errors import RowFailure
from ledger.sandbox import FaultConfig

SITE = "CUV93470292900"
NUMBERS = "+34516789012,+34517890123,+34518901234"


@pytest.fixture
def loc(sandbox):
    lid = sandbox.state.add_location(SITE, calling_enabled=True)
    sandbox.log.clear()
    return lid


def test_adds_the_numbers_inactive(sandbox, act, loc):
    a = act(sandbox, "location.numbers")
    res = a.run({"name": SITE, "phone_numbers": NUMBERS}, {"number_type": "DID"})

    assert res.status == "succeeded"
    assert a.writes() == [
        (
            "POST",
            f"/v1/telephony/config/locations/{loc}/numbers",
            {"phoneNumbers": NUMBERS.split(","), "numberType": "DID", "state": "INACTIVE"},
        )
    ]
    inv = sandbox.state.numbers_in(loc)
    assert sorted(inv) == sorted(NUMBERS.split(","))
    assert {r["state"] for r in inv.values()} == {"INACTIVE"}


def test_only_missing_numbers_are_sent_and_all_present_is_skipped(sandbox, act, loc):
    sandbox.state.add_number(loc, "+34517890123")
    a = act(sandbox, "location.numbers")

    assert a.run({"name": SITE, "phone_numbers": NUMBERS}).status == "succeeded"
    (body,) = a.bodies("POST", "/numbers")
    assert body["phoneNumbers"] == ["+34516789012", "+34518901234"]

    sandbox.log.clear()
    again = act(sandbox, "location.numbers")
    res = again.run({"name": SITE, "phone_numbers": NUMBERS})
    assert res.status == "skipped"
    assert res.result["reason"] == "numbers_already_present"
    assert again.writes() == []


def test_numbers_without_plus_are_normalised(sandbox, act, loc):
    a = act(sandbox, "location.numbers")
    assert a.run({"name": SITE, "phone_numbers": "34516789012, 34517890123"}).status == "succeeded"
    (body,) = a.bodies("POST", "/numbers")
    assert body["phoneNumbers"] == ["+34516789012", "+34517890123"]


def test_swallowed_400_with_per_number_errors_fails_the_row_naming_them(sandbox, act, loc):
    """wxc_sdk does not raise on this 400: the row must fail anyway, with Webex's per-number errors."""
    other = sandbox.state.add_location("ELSEWHERE", calling_enabled=True)
    sandbox.state.add_number(other, "+34517890123")
    a = act(sandbox, "location.numbers")

    with pytest.raises(RowFailure) as err:
        a.run({"name": SITE, "phone_numbers": NUMBERS + ",+14155550100"})

    e = err.value
    assert "2 of 4 numbers were not added" in e.message
    assert "+34517890123 (NUM_IN_USE:" in e.message
    assert "+14155550100 (INVALID_COUNTRY:" in e.message
    assert e.code == "numbers_not_added"  # two different Webex codes
    assert e.detail["added"] == ["+34516789012", "+34518901234"]
    assert set(e.detail["failed"]) == {"+34517890123", "+14155550100"}
    assert [r.status for r in sandbox.requests() if r.method == "POST"] == [400]
    # the good numbers did land; re-running the row only re-sends the failing ones
    assert sorted(sandbox.state.numbers_in(loc)) == ["+34516789012", "+34518901234"]
    sandbox.log.clear()
    with pytest.raises(RowFailure):
        a.run({"name": SITE, "phone_numbers": NUMBERS + ",+14155550100"})
    (body,) = a.bodies("POST", "/numbers")
    assert body["phoneNumbers"] == ["+34517890123", "+14155550100"]


def test_single_webex_code_becomes_the_row_code(sandbox, act, loc):
    a = act(sandbox, "location.numbers")
    with pytest.raises(RowFailure) as err:
        a.run({"name": SITE, "phone_numbers": "+14155550100,+14155550101"})
    assert err.value.code == "INVALID_COUNTRY"
    assert sandbox.state.numbers_in(loc) == {}


def test_swallowed_400_without_per_number_errors_is_caught_by_the_reread(sandbox_factory, act):
    """A 400 whose body is a plain error object: wxc_sdk returns an empty result; the re-read catches it."""
    sb = sandbox_factory(faults=FaultConfig(row_errors={SITE}))
    loc = sb.state.add_location(SITE, calling_enabled=True)
    a = act(sb, "location.numbers")

    with pytest.raises(RowFailure) as err:
        a.run({"name": SITE, "phone_numbers": NUMBERS})

    assert [r.status for r in sb.requests() if r.method == "POST"] == [400]
    assert "3 of 3 numbers were not added" in err.value.message
    assert "no error returned by Webex" in err.value.message
    assert err.value.code == "numbers_not_added"
    assert sb.state.numbers_in(loc) == {}


def test_non_calling_location_fails_with_webex_reason(sandbox, act):
    sandbox.state.add_location(SITE, calling_enabled=False)
    a = act(sandbox, "location.numbers")
    with pytest.raises(RowFailure) as err:
        a.run({"name": SITE, "phone_numbers": NUMBERS})
    assert err.value.code == "LOCATION_NOT_CALLING"


def test_dry_run_writes_nothing(sandbox, act, loc):
    sandbox.state.add_number(loc, "+34517890123")
    a = act(sandbox, "location.numbers", dry_run=True)

    res = a.run({"name": SITE, "phone_numbers": NUMBERS})

    assert res.status == "succeeded"
    assert res.planned == {"add": ["+34516789012", "+34518901234"], "numberType": "DID", "state": "INACTIVE"}
    assert res.result["already_present"] == ["+34517890123"]
    assert a.writes() == []
    assert sorted(sandbox.state.numbers_in(loc)) == ["+34517890123"]


def test_location_lookup_is_cached_per_run(sandbox, act, loc):
    a = act(sandbox, "location.numbers")
    a.run({"name": SITE, "phone_numbers": "+34516789012"})
    a.run({"name": SITE, "phone_numbers": "+34517890123"})
    assert len([r for r in sandbox.requests() if r.path == "/v1/locations"]) == 1


def test_mobile_numbers_are_sent_20_per_request(sandbox, act, loc):
    numbers = [f"+346000000{i:02d}" for i in range(45)]
    a = act(sandbox, "location.numbers")
    assert a.run({"name": SITE, "phone_numbers": ",".join(numbers), "number_type": "MOBILE"}).status == "succeeded"
    bodies = a.bodies("POST", "/numbers")
    assert [len(b["phoneNumbers"]) for b in bodies] == [20, 20, 5]
    assert [n for b in bodies for n in b["phoneNumbers"]] == numbers
    assert {b["numberType"] for b in bodies} == {"MOBILE"}
    assert len(sandbox.state.numbers_in(loc)) == 45


def test_swallowed_400_without_errors_on_a_non_calling_location_says_so(sandbox_factory, act):
    sb = sandbox_factory(faults=FaultConfig(row_errors={SITE}))
    sb.state.add_location(SITE, calling_enabled=False)
    a = act(sb, "location.numbers")
    with pytest.raises(RowFailure) as err:
        a.run({"name": SITE, "phone_numbers": NUMBERS})
    assert err.value.code == "location_not_calling"
    assert "run location.pstn" in err.value.message


def test_the_main_number_is_added_too_so_main_number_can_set_it(sandbox, act, loc):
    """v21_actions.md §3.2: the main number (calling_line_id, without '+') is not in phone_numbers."""
    a = act(sandbox, "location.numbers")
    assert a.run({"name": SITE, "phone_numbers": NUMBERS, "calling_line_id": "34935678901"}).status == "succeeded"
    (body,) = a.bodies("POST", "/numbers")
    assert body["phoneNumbers"] == [*NUMBERS.split(","), "+34935678901"]
    assert act(sandbox, "location.main_number").run({"name": SITE, "calling_line_id": "34935678901"}).status == "succeeded"
    assert sandbox.state.get_location(loc)["_callingLineId"]["phoneNumber"] == "+34935678901"


def test_a_main_number_already_listed_is_sent_once_and_alone_is_enough(sandbox, act, loc):
    a = act(sandbox, "location.numbers")
    assert a.run({"name": SITE, "phone_numbers": NUMBERS, "calling_line_id": "+34516789012"}).status == "succeeded"
    (body,) = a.bodies("POST", "/numbers")
    assert body["phoneNumbers"] == NUMBERS.split(",")
    sandbox.log.clear()
    only_main = act(sandbox, "location.numbers")
    assert only_main.run({"name": SITE, "phone_numbers": "", "phone_number": "+34934567890"}).status == "succeeded"
    (body,) = only_main.bodies("POST", "/numbers")
    assert body["phoneNumbers"] == ["+34934567890"]


def test_numbers_refused_for_one_reason_are_told_once(sandbox, act, loc):
    """Ten numbers in use elsewhere: one reason naming the ten, not the same sentence ten times."""
    other = sandbox.state.add_location("ELSEWHERE", calling_enabled=True)
    taken = [f"+3493100000{i}" for i in range(10)]
    for n in taken:
        sandbox.state.add_number(other, n)
    with pytest.raises(RowFailure) as err:
        act(sandbox, "location.numbers").run({"name": SITE, "phone_numbers": ",".join([*taken, "+34516789012"])})
    message = err.value.message
    assert message.startswith("10 of 11 numbers were not added: " + ", ".join(taken) + " (NUM_IN_USE: ")
    assert message.count("NUM_IN_USE") == 1 and message.count("+34931000003") == 1
    assert err.value.code == "NUM_IN_USE" and set(err.value.detail["failed"]) == set(taken)
