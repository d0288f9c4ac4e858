"""user.forwarding against the sandbox: full object sent, read-before-write, errors per row."""

from __future__ import annotations

import pytest

from ledger.errors import RowFailure


@pytest.fixture
def calling_user(sandbox):
    loc = sandbox.state.add_location("HQ", calling_enabled=True)
    pid = sandbox.state.add_person(
        "ana@example.com", "Ana", "Ruiz", location_id=loc, extension="80347245", calling=True
    )
    sandbox.log.clear()
    return pid


def test_forwards_to_53_plus_extension_sending_the_full_object(sandbox, act, calling_user):
    a = act(sandbox, "user.forwarding")
    res = a.run({"email": "ana@example.com", "extension": "80347245"})

    assert res.status == "succeeded"
    assert res.result["person_id"] == calling_user
    assert res.result["changed"] == {"always": {"enabled": True, "destination": "5380347245"}}
    puts = a.bodies("PUT", "/features/callForwarding")
    assert puts == [
        {
            "callForwarding": {
                "always": {
                    "enabled": True,
                    "destination": "5380347245",
                    "destinationVoicemailEnabled": False,
                    "ringReminderEnabled": False,
                },
                "busy": {"enabled": False, "destination": "", "destinationVoicemailEnabled": False},
                "noAnswer": {
                    "enabled": False,
                    "destination": "",
                    "destinationVoicemailEnabled": False,
                    "numberOfRings": 3,
                },
            },
            "businessContinuity": {"enabled": False, "destination": "", "destinationVoicemailEnabled": False},
        }
    ]
    state = sandbox.state.forwarding_of(calling_user)["callForwarding"]["always"]
    assert (state["enabled"], state["destination"]) == (True, "5380347245")


def test_destination_column_wins_and_other_forwards_are_kept(sandbox, act, calling_user):
    fw = sandbox.state.forwarding_of(calling_user)
    fw["callForwarding"]["busy"].update(enabled=True, destination="+34910000000")
    a = act(sandbox, "user.forwarding")

    res = a.run({"email": "ana@example.com", "extension": "80347245", "destination": "530347245"})

    assert res.status == "succeeded"
    (body,) = a.bodies("PUT", "/features/callForwarding")
    assert body["callForwarding"]["always"]["destination"] == "530347245"
    assert body["callForwarding"]["busy"] == {
        "enabled": True,
        "destination": "+34910000000",
        "destinationVoicemailEnabled": False,
    }
    assert sandbox.state.forwarding_of(calling_user)["callForwarding"]["busy"]["enabled"] is True


def test_second_run_writes_nothing(sandbox, act, calling_user):
    act(sandbox, "user.forwarding").run({"email": "ana@example.com", "destination": "530347245"})
    sandbox.log.clear()

    again = act(sandbox, "user.forwarding")
    res = again.run({"email": "ana@example.com", "destination": "530347245"})

    assert res.status == "skipped"
    assert res.result["reason"] == "forwarding_already_set"
    assert again.writes() == []


def test_disable_turns_always_off_and_is_idempotent(sandbox, act, calling_user):
    sandbox.state.forwarding_of(calling_user)["callForwarding"]["always"].update(enabled=True, destination="5312")
    a = act(sandbox, "user.forwarding")
    assert a.run({"email": "ana@example.com", "extension": "12", "enabled": "FALSE"}).status == "succeeded"
    assert sandbox.state.forwarding_of(calling_user)["callForwarding"]["always"]["enabled"] is False
    sandbox.log.clear()
    assert a.run({"email": "ana@example.com", "extension": "12", "enabled": "FALSE"}).status == "skipped"
    assert a.writes() == []


def test_dry_run_reads_and_plans_but_writes_nothing(sandbox, act, calling_user):
    a = act(sandbox, "user.forwarding", dry_run=True)
    res = a.run({"email": "ana@example.com", "extension": "80347245"})
    assert res.status == "succeeded"
    assert res.planned == {"always": {"enabled": True, "destination": "5380347245"}}
    assert a.writes() == []
    assert sandbox.state.forwarding_of(calling_user)["callForwarding"]["always"]["enabled"] is False


def test_unknown_email_is_a_row_failure(sandbox, act, calling_user):
    with pytest.raises(RowFailure, match="unknown user 'nobody@example.com'") as err:
        act(sandbox, "user.forwarding").run({"email": "nobody@example.com", "extension": "1"})
    assert err.value.code == "unknown_user"


def test_user_without_calling_is_a_row_failure(sandbox, act):
    sandbox.state.add_person("plain@example.com", "Plain", "User")
    with pytest.raises(RowFailure, match="not a valid Webex Calling user|Calling") as err:
        act(sandbox, "user.forwarding").run({"email": "plain@example.com", "extension": "1"})
    assert err.value.http_status == 400
    assert err.value.code == "1026010"


def test_row_error_on_the_write_is_a_row_failure_with_its_code(sandbox_factory, act):
    from ledger.sandbox import FaultConfig

    sb = sandbox_factory(faults=FaultConfig(row_errors={"busy@example.com"}, row_error_code=4003), seed=3)
    loc = sb.state.add_location("HQ", calling_enabled=True)
    sb.state.add_person("busy@example.com", "B", "Usy", location_id=loc, extension="2001", calling=True)
    with pytest.raises(RowFailure) as err:
        act(sb, "user.forwarding").run({"email": "busy@example.com", "extension": "2001"})
    assert err.value.code == "4003"
    assert err.value.http_status == 400
    assert err.value.tracking_id


def test_user_call_forwarding_busy_gets_its_own_message():
    from ledger.actions.forwarding import forwarding_busy_failure, is_forwarding_busy

    raw = RowFailure(
        "set forwarding of a@x: HTTP 400 4003 [Error 4003] UserCallForwardingBusy", code=4003, http_status=400
    )
    assert is_forwarding_busy(raw)
    assert not is_forwarding_busy(RowFailure("HTTP 400 4003 Invalid request", code=4003))
    failure = forwarding_busy_failure(raw, "a@x")
    assert "UserCallForwardingBusy" in str(failure) and "a@x" in str(failure)
    assert failure.code == "4003" and failure.http_status == 400


def test_user_call_forwarding_busy_from_webex_is_a_clear_row_failure(sandbox, act, calling_user):
    from ledger.sandbox import FaultConfig

    sandbox.faults = FaultConfig(forwarding_busy={"ana@example.com"})
    with pytest.raises(RowFailure, match="UserCallForwardingBusy") as err:
        act(sandbox, "user.forwarding").run({"email": "ana@example.com", "extension": "80347245"})
    assert err.value.code == "4003" and err.value.http_status == 400
    assert "Control Hub" in str(err.value)
    assert sandbox.state.forwarding_of(calling_user)["callForwarding"]["always"]["enabled"] is False


def test_lost_answer_to_the_write_is_ambiguous_and_the_retry_rechecks(sandbox, act, lose, calling_user):
    from ledger.errors import TransientFailure

    a = act(sandbox, "user.forwarding")
    lose(a, 3)  # 1 people lookup, 2 forwarding read, 3 the PUT: applied, answer lost
    row = a.row({"email": "ana@example.com", "extension": "80347245"})
    with pytest.raises(TransientFailure) as err:
        a.executor.execute(row)
    assert err.value.ambiguous
    assert sandbox.state.forwarding_of(calling_user)["callForwarding"]["always"]["enabled"] is True
    sandbox.log.clear()

    res = a.executor.execute(row)  # the retry re-executes: read first, nothing re-sent

    assert res.status == "skipped"
    assert a.writes() == []


def test_destination_comparison_ignores_formatting():
    from wxc_sdk.person_settings.forwarding import PersonForwardingSetting

    from ledger.actions.forwarding import desired_forwarding

    current = PersonForwardingSetting.default()
    current.call_forwarding.always.enabled = True
    current.call_forwarding.always.destination = "+34 912-345-678"
    assert desired_forwarding(current, {"destination": "34912345678"}) is None
    changed = desired_forwarding(current, {"destination": "34912345679"})
    assert changed is not None and changed.call_forwarding.always.destination == "34912345679"
    assert changed.call_forwarding.busy == current.call_forwarding.busy
