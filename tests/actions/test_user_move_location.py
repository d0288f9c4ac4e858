"""user.move_location against the sandbox."""

from __future__ import annotations

import pytest

from ledger.errors import RowFailure


@pytest.fixture
def org(sandbox):
    st = sandbox.state
    hq = st.add_location("HQ", calling_enabled=True)
    branch = st.add_location("BRANCH", calling_enabled=True)
    pid = st.add_person("ana@example.com", "Ana", "Ruiz", location_id=hq, extension="1001", calling=True)
    sandbox.log.clear()
    return {"hq": hq, "branch": branch, "pid": pid, "glob": {"org_id": st.org_id}}


def _no_sleep(a):
    slept: list[float] = []
    a.executor.sleep = slept.append
    return slept


def test_calling_user_moves_through_the_job_which_is_polled(sandbox, act, org):
    a = act(sandbox, "user.move_location")
    slept = _no_sleep(a)
    res = a.run({"email": "ana@example.com", "location_name": "BRANCH"}, org["glob"])

    assert res.status == "succeeded"
    assert res.result["changed"] == {"location_id": org["branch"], "from_location_id": org["hq"], "via": "move_job"}
    assert res.result["job_status"] == "COMPLETED"
    assert a.bodies("POST", "/jobs/person/moveLocation") == [
        {
            "usersList": [
                {"locationId": org["branch"], "validate": False, "users": [{"userId": org["pid"], "extension": "1001"}]}
            ]
        }
    ]
    # the sandbox's job ends on its third status read (state/jobs.py); the reads back off 1 s, 2 s, 4 s
    polls = [r for r in sandbox.requests() if r.method == "GET" and "/moveLocation/" in r.path]
    assert len(polls) == 3 and all(p.path.endswith(res.result["job_id"]) for p in polls)
    assert slept == [1.0, 2.0, 4.0]
    assert sandbox.state.get_person(org["pid"])["locationId"] == org["branch"]


def test_second_run_writes_nothing(sandbox, act, org):
    a = act(sandbox, "user.move_location")
    _no_sleep(a)
    assert a.run({"email": "ana@example.com", "location_id": org["branch"]}, org["glob"]).status == "succeeded"
    sandbox.log.clear()
    again = act(sandbox, "user.move_location")
    res = again.run({"email": "ana@example.com", "location_id": org["branch"]}, org["glob"])
    assert res.status == "skipped" and res.result["reason"] == "already_in_target_location"
    assert again.writes() == []


def test_already_there_with_padded_or_uuid_id_is_skipped(sandbox, act, org):
    from ledger.actions.users import same_location
    from ledger.sandbox.ids import key

    padded = org["hq"] + "=" * (-len(org["hq"]) % 4)
    assert padded != org["hq"]
    sandbox.state.get_person(org["pid"])["locationId"] = padded  # Webex answers with padding
    a = act(sandbox, "user.move_location")
    res = a.run({"email": "ana@example.com", "location_id": org["hq"]}, org["glob"])
    assert res.status == "skipped"
    assert a.writes() == []
    assert same_location(org["hq"], key(org["hq"])) and not same_location(org["hq"], org["branch"])


def test_move_job_user_error_fails_the_row_with_its_code(sandbox, act, org):
    sandbox.state.add_person("bob@example.com", "Bob", "B", location_id=org["branch"], extension="1001", calling=True)
    a = act(sandbox, "user.move_location")
    with pytest.raises(RowFailure, match="already in use") as err:
        a.run({"email": "ana@example.com", "location_name": "BRANCH"}, org["glob"])
    assert err.value.code == "4726"
    assert err.value.detail["reason"] == "extension_in_use"
    assert sandbox.state.get_person(org["pid"])["locationId"] == org["hq"]


def test_target_not_calling_enabled_fails_the_row(sandbox, act, org):
    sandbox.state.add_location("DARK", calling_enabled=False)
    with pytest.raises(RowFailure, match="not a Webex Calling location") as err:
        act(sandbox, "user.move_location").run({"email": "ana@example.com", "location_name": "DARK"}, org["glob"])
    assert err.value.code == "4125"


def test_non_calling_user_goes_through_people_update_with_only_location_changed(sandbox, act, org):
    pid = sandbox.state.add_person("plain@example.com", "Plain", "User")
    a = act(sandbox, "user.move_location")
    # the sandbox (like Webex) refuses a locationId without a Calling licence: a clear row failure
    with pytest.raises(RowFailure, match="Calling license is required") as err:
        a.run({"email": "plain@example.com", "location_name": "BRANCH"}, org["glob"])
    assert err.value.http_status == 400
    (body,) = a.bodies("PUT", f"/people/{pid}")
    assert body["locationId"] == org["branch"]
    assert body["emails"] == ["plain@example.com"]
    assert (body["firstName"], body["lastName"], body["displayName"]) == ("Plain", "User", "Plain User")
    assert a.bodies("POST", "/jobs/person/moveLocation") == []


def test_unknown_location_is_a_row_failure(sandbox, act, org):
    a = act(sandbox, "user.move_location")
    with pytest.raises(RowFailure, match="unknown location 'MARS'"):
        a.run({"email": "ana@example.com", "location_name": "MARS"}, org["glob"])
    assert a.writes() == []


def test_unknown_user_is_a_row_failure(sandbox, act, org):
    with pytest.raises(RowFailure, match="unknown user 'ghost@example.com'"):
        act(sandbox, "user.move_location").run({"email": "ghost@example.com", "location_name": "BRANCH"}, org["glob"])


def test_dry_run_writes_nothing(sandbox, act, org):
    a = act(sandbox, "user.move_location", dry_run=True)
    res = a.run({"email": "ana@example.com", "location_name": "BRANCH"}, org["glob"])
    assert res.status == "succeeded" and res.planned["location_id"] == org["branch"]
    assert a.writes() == []
    assert sandbox.state.get_person(org["pid"])["locationId"] == org["hq"]


def test_location_lookups_are_cached_per_run(sandbox, act, org):
    for i in range(3):
        sandbox.state.add_person(
            f"u{i}@example.com", "U", str(i), location_id=org["hq"], extension=f"20{i}", calling=True
        )
    a = act(sandbox, "user.move_location")
    _no_sleep(a)
    for i in range(3):
        assert a.run({"email": f"u{i}@example.com", "location_name": "BRANCH"}, org["glob"]).status == "succeeded"
    assert [r.path for r in sandbox.requests()].count("/v1/locations") == 1


def test_lost_answer_to_the_move_is_ambiguous_and_the_retry_rechecks(sandbox, act, lose, org):
    """The job started but its answer was lost: the re-check (a recovered row, as the worker sends it) waits
    for the org's running move jobs to end, then reads the user: moved, so skipped, no second job."""
    import dataclasses

    from ledger.errors import TransientFailure

    a = act(sandbox, "user.move_location")
    _no_sleep(a)
    row = a.row({"email": "ana@example.com", "location_id": org["branch"]}, org["glob"])
    lose(a, 3)  # 1 people lookup, 2 person read, 3 the move POST: applied, answer lost
    with pytest.raises(TransientFailure) as err:
        a.executor.execute(row)
    assert err.value.ambiguous
    assert sandbox.state.get_person(org["pid"])["locationId"] == org["hq"]  # the job has not run yet
    sandbox.log.clear()
    res = a.executor.execute(dataclasses.replace(row, recovered=True))
    assert res.status == "skipped" and res.result["reason"] == "already_in_target_location"
    assert a.writes() == []


@pytest.mark.parametrize(
    "code, text, expected_note, reason",
    [
        (25378, "Target location is same as user's current location.", None, None),
        (1026010, "xyz is not a valid Calling user", "not a valid Webex Calling user", "not_calling"),
        (4727, "Phone number +34 is already in use.", None, "number_in_use"),
        (4726, "Extension 12 already in use.", None, "extension_in_use"),
        (400, "something else", None, None),
    ],
)
def test_known_webex_row_errors_are_named(code, text, expected_note, reason):
    from ledger.actions.users import KNOWN_ROW_ERRORS, classify_row_error

    out = classify_row_error(
        RowFailure(f"move x: HTTP 400 {code} {text}", code=code, http_status=400, tracking_id="T1")
    )
    assert isinstance(out, RowFailure)
    assert (out.code, out.http_status, out.tracking_id) == (str(code), 400, "T1")
    if code in KNOWN_ROW_ERRORS:
        assert KNOWN_ROW_ERRORS[code] in str(out)
    if expected_note:
        assert expected_note in str(out)
    assert out.detail.get("reason") == reason


def test_non_row_errors_pass_through_unchanged():
    from ledger.actions.users import classify_row_error
    from ledger.errors import TransientFailure

    err = TransientFailure("boom", ambiguous=True)
    assert classify_row_error(err) is err


def test_v21_control_file_rows_not_selected_are_skipped_without_any_call(sandbox, act, org):
    a = act(sandbox, "user.move_location")
    res = a.run({"email": "ana@example.com", "location_name": "BRANCH", "selected": "0"}, org["glob"])
    assert res.status == "skipped" and res.result["reason"] == "not_selected"
    assert sandbox.requests() == []
    a.executor.sleep = lambda s: None
    assert a.run({"email": "ana@example.com", "location_name": "BRANCH", "selected": "X"}, org["glob"]).status == "succeeded"


def test_another_move_job_running_is_a_throttle_then_the_move_goes_through(sandbox, act, org):
    from ledger.errors import Throttled

    sandbox.state.move_busy = 1  # the sandbox answers 409 to the next move POST
    a = act(sandbox, "user.move_location")
    a.executor.sleep = lambda s: None
    row = a.row({"email": "ana@example.com", "location_name": "BRANCH"}, org["glob"])
    with pytest.raises(Throttled) as err:
        a.executor.execute(row)
    assert err.value.http_status == 409 and err.value.retry_after and not err.value.ambiguous
    assert "another move-users job" in str(err.value)
    assert sandbox.state.get_person(org["pid"])["locationId"] == org["hq"]

    assert a.executor.execute(row).status == "succeeded"
    assert sandbox.state.get_person(org["pid"])["locationId"] == org["branch"]
