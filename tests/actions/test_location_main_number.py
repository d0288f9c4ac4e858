"""location.main_number against the sandbox: only callingLineId written, inventory checked first."""

from __future__ import annotations

import pytest

from ledger.errors import RowFailure

SITE = "CUV93470292900"


@pytest.fixture
def loc(sandbox):
    lid = sandbox.state.add_location(SITE, calling_enabled=True)
    sandbox.state.add_number(lid, "+34935678901")
    sandbox.state.add_number(lid, "+34934567890")
    sandbox.log.clear()
    return lid


def main_number(sandbox, lid):
    cli = sandbox.state.get_location(lid)["_callingLineId"]
    return cli and cli["phoneNumber"]


def test_sets_the_main_number_from_calling_line_id_without_plus(sandbox, act, loc):
    a = act(sandbox, "location.main_number")
    res = a.run({"name": SITE, "calling_line_id": "34935678901"})

    assert res.status == "succeeded"
    assert a.writes() == [
        ("PUT", f"/v1/telephony/config/locations/{loc}", {"callingLineId": {"phoneNumber": "+34935678901"}})
    ]
    assert main_number(sandbox, loc) == "+34935678901"


def test_phone_number_column_is_used_when_calling_line_id_is_empty(sandbox, act, loc):
    a = act(sandbox, "location.main_number")
    assert a.run({"name": SITE, "calling_line_id": "", "phone_number": "+34934567890"}).status == "succeeded"
    assert main_number(sandbox, loc) == "+34934567890"


def test_second_run_is_skipped_without_writes(sandbox, act, loc):
    act(sandbox, "location.main_number").run({"name": SITE, "calling_line_id": "+34935678901"})
    sandbox.log.clear()

    again = act(sandbox, "location.main_number")
    res = again.run({"name": SITE, "calling_line_id": "34935678901"})

    assert res.status == "skipped"
    assert res.result["reason"] == "main_number_already_set"
    assert again.writes() == []


def test_number_not_in_the_location_is_a_row_error_naming_it(sandbox, act, loc):
    other = sandbox.state.add_location("ELSEWHERE", calling_enabled=True)
    sandbox.state.add_number(other, "+34939999999")
    a = act(sandbox, "location.main_number")

    with pytest.raises(RowFailure) as err:
        a.run({"name": SITE, "calling_line_id": "+34939999999"})

    assert err.value.code == "number_not_in_location"
    assert "+34939999999" in err.value.message
    assert a.writes() == []
    assert main_number(sandbox, loc) is None


def test_non_calling_location_is_a_row_error(sandbox, act):
    sandbox.state.add_location(SITE, calling_enabled=False)
    a = act(sandbox, "location.main_number")
    with pytest.raises(RowFailure) as err:
        a.run({"name": SITE, "calling_line_id": "+34935678901"})
    assert err.value.code == "location_not_calling"
    assert a.writes() == []


def test_dry_run_writes_nothing(sandbox, act, loc):
    a = act(sandbox, "location.main_number", dry_run=True)
    res = a.run({"name": SITE, "calling_line_id": "+34935678901"})
    assert res.status == "succeeded"
    assert res.planned == {"callingLineId": {"phoneNumber": "+34935678901"}, "previous": None}
    assert a.writes() == []
    assert main_number(sandbox, loc) is None


def test_location_id_column_skips_the_name_lookup(sandbox, act, loc):
    a = act(sandbox, "location.main_number")
    assert a.run({"location_id": loc, "calling_line_id": "+34935678901"}).status == "succeeded"
    assert [r for r in sandbox.requests() if r.path == "/v1/locations"] == []


def test_calling_line_name_is_sent_with_the_number_and_compared(sandbox, act, loc):
    a = act(sandbox, "location.main_number")
    row = {"name": SITE, "calling_line_id": "+34935678901", "calling_line_name": "Seu Esplugues"}
    assert a.run(row).status == "succeeded"
    assert a.bodies("PUT", f"/locations/{loc}") == [
        {"callingLineId": {"phoneNumber": "+34935678901", "name": "Seu Esplugues"}}
    ]
    sandbox.log.clear()
    assert a.run(row).status == "skipped"
    assert a.run({"name": SITE, "calling_line_id": "+34935678901"}).status == "skipped"  # name not asked: kept
    assert a.writes() == []
    assert sandbox.state.get_location(loc)["_callingLineId"]["name"] == "Seu Esplugues"
