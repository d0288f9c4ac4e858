"""user.forwarding against the sandbox: ``always`` written first on a first attempt; re-checked rows
read and send the full object; errors per row."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import RowFailure


def desired_forwarding(current, payload):
    """The full settings BaseExecutor.apply_forwarding would PUT for a user's row, or None (skipped)."""
    from ledger.actions.forwarding import forwarding_changes, with_always

    changes = forwarding_changes(current, payload)
    return with_always(current, changes["always"]) if changes else None


@pytest.fixture
def calling_user(sandbox):
    loc = sandbox.state.add_location("HQ", calling_enabled=True)
    pid = sandbox.state.add_person(
        "ana@example.com", "Ana", "Ruiz", location_id=loc, extension="80347245", calling=True
    )
    sandbox.log.clear()
    return pid


FULL_DEFAULT_BODY = {
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


def _forwarding_requests(sb):
    return [(r.method, r.body) for r in sb.requests() if r.path.endswith("/features/callForwarding")]


def test_first_attempt_writes_always_alone_without_reading(sandbox, act, calling_user):
    a = act(sandbox, "user.forwarding")
    res = a.run({"email": "ana@example.com", "extension": "80347245"})

    assert res.status == "succeeded"
    assert res.result["person_id"] == calling_user
    assert res.result["changed"] == {"always": {"enabled": True, "destination": "5380347245"}}
    assert res.result["read_first"] is False
    # one request for the setting: the PUT, carrying only what the row sets (every field is optional)
    assert _forwarding_requests(sandbox) == [
        ("PUT", {"callForwarding": {"always": {"enabled": True, "destination": "5380347245"}}})
    ]
    state = sandbox.state.forwarding_of(calling_user)["callForwarding"]["always"]
    assert (state["enabled"], state["destination"]) == (True, "5380347245")


def test_rechecked_row_reads_and_sends_the_full_object(sandbox, act, calling_user):
    a = act(sandbox, "user.forwarding")
    res = a.executor.execute(a.row({"email": "ana@example.com", "extension": "80347245"}, recovered=True))

    assert res.status == "succeeded" and "read_first" not in res.result
    assert [m for m, _ in _forwarding_requests(sandbox)] == ["GET", "PUT"]
    assert a.bodies("PUT", "/features/callForwarding") == [FULL_DEFAULT_BODY]


@pytest.mark.parametrize("recheck", [{}, {"attempt": 2}, {"recovered": True}], ids=["first", "retry, nothing written yet", "re-check"])
def test_destination_column_wins_and_other_forwards_are_kept(sandbox, act, calling_user, recheck):
    fw = sandbox.state.forwarding_of(calling_user)
    fw["callForwarding"]["busy"].update(enabled=True, destination="+34910000000")
    fw["callForwarding"]["always"].update(ringReminderEnabled=True)
    a = act(sandbox, "user.forwarding")

    row = a.row({"email": "ana@example.com", "extension": "80347245", "destination": "530347245"}, **recheck)
    assert a.executor.execute(row).status == "succeeded"

    (body,) = a.bodies("PUT", "/features/callForwarding")
    assert body["callForwarding"]["always"]["destination"] == "530347245"
    after = sandbox.state.forwarding_of(calling_user)["callForwarding"]
    assert after["busy"] == {"enabled": True, "destination": "+34910000000", "destinationVoicemailEnabled": False}
    assert after["always"]["ringReminderEnabled"] is True
    assert after["always"]["destination"] == "530347245"


def test_rerun_first_attempt_sends_one_put_and_a_recheck_writes_nothing(sandbox, act, calling_user):
    act(sandbox, "user.forwarding").run({"email": "ana@example.com", "destination": "530347245"})
    sandbox.log.clear()

    again = act(sandbox, "user.forwarding")
    res = again.run({"email": "ana@example.com", "destination": "530347245"})
    assert res.status == "succeeded"  # idempotent: the same value, one request either way
    assert [m for m, _ in _forwarding_requests(sandbox)] == ["PUT"]
    sandbox.log.clear()

    rechecked = again.executor.execute(again.row({"email": "ana@example.com", "destination": "530347245"}, recovered=True))
    assert rechecked.status == "skipped"
    assert rechecked.result["reason"] == "forwarding_already_set"
    assert again.writes() == []


def test_disable_turns_always_off_and_is_idempotent(sandbox, act, calling_user):
    sandbox.state.forwarding_of(calling_user)["callForwarding"]["always"].update(enabled=True, destination="5312")
    a = act(sandbox, "user.forwarding")
    assert a.run({"email": "ana@example.com", "extension": "12", "enabled": "FALSE"}).status == "succeeded"
    assert a.bodies("PUT", "/features/callForwarding") == [{"callForwarding": {"always": {"enabled": False}}}]
    assert sandbox.state.forwarding_of(calling_user)["callForwarding"]["always"]["enabled"] is False
    assert sandbox.state.forwarding_of(calling_user)["callForwarding"]["always"]["destination"] == "5312"
    sandbox.log.clear()
    row = a.row({"email": "ana@example.com", "extension": "12", "enabled": "FALSE"}, recovered=True)
    assert a.executor.execute(row).status == "skipped"
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
    # the short write was refused: the careful path read and sent the full object, refused again
    assert [m for m, _ in _forwarding_requests(sandbox)] == ["PUT", "GET", "PUT"]
    assert _forwarding_requests(sandbox)[2][1] == FULL_DEFAULT_BODY


def test_lost_answer_to_the_write_is_ambiguous_and_the_retry_rechecks(sandbox, act, lose, calling_user):
    from ledger.errors import TransientFailure

    a = act(sandbox, "user.forwarding")
    lose(a, 2)  # 1 people lookup, 2 the PUT (written first): applied, answer lost
    row = a.row({"email": "ana@example.com", "extension": "80347245"})
    with pytest.raises(TransientFailure) as err:
        a.executor.execute(row)
    assert err.value.ambiguous
    assert sandbox.state.forwarding_of(calling_user)["callForwarding"]["always"]["enabled"] is True
    sandbox.log.clear()

    # the engine marks the retry of a write whose answer was lost `recovered`: it reads first, sends nothing
    res = a.executor.execute(a.row({"email": "ana@example.com", "extension": "80347245"}, recovered=True))

    assert res.status == "skipped"
    assert a.writes() == []


def test_destination_comparison_ignores_formatting():
    from wxc_sdk.person_settings.forwarding import PersonForwardingSetting

    current = PersonForwardingSetting.default()
    current.call_forwarding.always.enabled = True
    current.call_forwarding.always.destination = "+34 912-345-678"
    assert desired_forwarding(current, {"destination": "34912345678"}) is None
    changed = desired_forwarding(current, {"destination": "34912345679"})
    assert changed is not None and changed.call_forwarding.always.destination == "34912345679"
    assert changed.call_forwarding.busy == current.call_forwarding.busy


_dest = st.sampled_from(["", "530347245", "5380347245", "+34912345678", "1234"])
_fwd_st = st.fixed_dictionaries(
    {
        "always": st.fixed_dictionaries(
            {
                "enabled": st.booleans(),
                "destination": _dest,
                "ringReminderEnabled": st.booleans(),
                "destinationVoicemailEnabled": st.booleans(),
            }
        ),
        "busy": st.fixed_dictionaries({"enabled": st.booleans(), "destination": _dest}),
        "noAnswer": st.fixed_dictionaries(
            {"enabled": st.booleans(), "destination": _dest, "numberOfRings": st.integers(2, 9)}
        ),
    }
)
_fwd_row = st.fixed_dictionaries(
    {"extension": st.sampled_from(["80347245", "1234"])},
    optional={"destination": _dest.filter(bool), "enabled": st.booleans()},
)


@settings(max_examples=200, deadline=None)
@given(_fwd_st, st.booleans(), _fwd_row)
def test_forwarding_property_reaches_target_and_keeps_the_rest(cf, bc_enabled, row):
    from wxc_sdk.person_settings.forwarding import PersonForwardingSetting

    from ledger.actions.forwarding import forward_destination

    data = {"callForwarding": cf, "businessContinuity": {"enabled": bc_enabled, "destination": "9"}}
    current = PersonForwardingSetting.model_validate(data)
    desired = desired_forwarding(current, row)
    want_on = row.get("enabled", True)
    holds = (cf["always"]["enabled"] == want_on) and (
        not want_on or cf["always"]["destination"] == forward_destination(row)
    )
    if desired is None:
        assert holds
        return
    assert not holds
    body = desired.update()
    # the full object goes out, everything but `always` exactly as read
    assert set(body) == {"callForwarding", "businessContinuity"}
    assert body["businessContinuity"] == data["businessContinuity"]
    assert body["callForwarding"]["busy"] == cf["busy"] and body["callForwarding"]["noAnswer"] == cf["noAnswer"]
    after = PersonForwardingSetting.model_validate(body)
    assert desired_forwarding(after, row) is None
    assert after.call_forwarding.always.ring_reminder_enabled == cf["always"]["ringReminderEnabled"]
