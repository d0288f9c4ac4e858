"""user.move_location in move-users jobs of up to 100 users (issue 14) and the job outcomes of issue 11:
COMPLETED / COMPLETED_WITH_ERRORS / FAILED, both reply shapes, a job outliving the row's budget."""

from __future__ import annotations

import pytest

from ledger.errors import RowFailure, TransientFailure

MOVE = "/jobs/person/moveLocation"


@pytest.fixture
def site(sandbox):
    st = sandbox.state
    hq = st.add_location("HQ", calling_enabled=True)
    branch = st.add_location("BRANCH", calling_enabled=True)
    other = st.add_location("OTHER", calling_enabled=True)
    pids = [st.add_person(f"u{i:03d}@example.com", "U", str(i), location_id=hq, extension=str(2000 + i), calling=True)
            for i in range(150)]
    sandbox.log.clear()
    return {"hq": hq, "branch": branch, "other": other, "pids": pids, "glob": {"org_id": st.org_id}}


def _mover(sandbox, act):
    a = act(sandbox, "user.move_location")
    a.executor.sleep = lambda s: None
    return a


def _rows(a, site, n, target="BRANCH", start=0):
    return [a.row({"email": f"u{i:03d}@example.com", "location_name": target}, site["glob"]) for i in range(start, n)]


def _posts(sandbox):
    return [r for r in sandbox.requests() if r.method == "POST" and r.path.endswith(MOVE)]


def test_50_users_to_one_site_use_one_job(sandbox, act, site):
    a = _mover(sandbox, act)
    out = a.run_many(_rows(a, site, 50))
    assert {r.status for r in out.values()} == {"succeeded"} and len(out) == 50
    (post,) = _posts(sandbox)
    assert len(post.body["usersList"][0]["users"]) == 50
    polls = [r for r in sandbox.requests() if r.method == "GET" and "/moveLocation/" in r.path]
    assert len(polls) == sandbox.state.move_job_polls  # one job polled, not one per user
    assert {res.result["job_id"] for res in out.values()} == {polls[0].path.rsplit("/", 1)[-1]}
    assert all(sandbox.state.get_person(p)["locationId"] == site["branch"] for p in site["pids"][:50])


def test_users_are_grouped_by_target_and_100_per_job(sandbox, act, site):
    a = _mover(sandbox, act)
    rows = _rows(a, site, 130) + _rows(a, site, 150, target="OTHER", start=130)
    out = a.run_many(rows)
    assert {r.status for r in out.values()} == {"succeeded"}
    sizes = sorted((p.body["usersList"][0]["locationId"], len(p.body["usersList"][0]["users"])) for p in _posts(sandbox))
    assert sorted(sizes) == sorted([(site["branch"], 100), (site["branch"], 30), (site["other"], 20)])


def test_completed_with_errors_fails_only_the_listed_users_with_their_tracking_id(sandbox, act, site):
    sandbox.state.move_fail = {"u003@example.com", "u007@example.com"}
    a = _mover(sandbox, act)
    rows = _rows(a, site, 10)
    out = a.run_many(rows)
    failed = {r.payload["email"] for r in rows if isinstance(out[r.row_id], Exception)}
    assert failed == {"u003@example.com", "u007@example.com"}
    err = out[rows[3].row_id]
    assert isinstance(err, RowFailure) and err.code == "1026015" and "COMPLETED_WITH_ERRORS" in str(err)
    assert err.tracking_id and err.tracking_id.endswith("_3")
    assert out[rows[0].row_id].result["job_status"] == "COMPLETED_WITH_ERRORS"
    st = sandbox.state
    assert st.get_person(site["pids"][3])["locationId"] == site["hq"]
    assert st.get_person(site["pids"][4])["locationId"] == site["branch"]


def test_a_failed_job_fails_every_row(sandbox, act, site):
    sandbox.state.move_fail = {f"u{i:03d}@example.com" for i in range(3)}
    a = _mover(sandbox, act)
    out = a.run_many(_rows(a, site, 3))
    assert all(isinstance(o, RowFailure) and "(FAILED)" in str(o) for o in out.values())


def test_the_job_object_reply_shape_is_read_too(sandbox, act, site):
    sandbox.state.move_reply = "job"  # the 2026 spec: 201 with the job itself (reference README, conflicts)
    a = _mover(sandbox, act)
    out = a.run_many(_rows(a, site, 5))
    assert {r.status for r in out.values()} == {"succeeded"}
    assert [p.status for p in _posts(sandbox)] == [201]


def test_a_job_still_running_at_the_budget_is_not_succeeded_and_the_retry_resumes_it(sandbox, act, site):
    sandbox.state.move_job_polls = 50
    a = _mover(sandbox, act)
    a.executor.poll_budget_s = 0.0  # the budget ends before any status read
    rows = _rows(a, site, 4)
    out = a.run_many(rows)
    assert all(isinstance(o, TransientFailure) and o.ambiguous and o.code == "move_job_running" for o in out.values())
    assert sandbox.state.get_person(site["pids"][0])["locationId"] == site["hq"]
    sandbox.state.move_job_polls = 3
    a.executor.poll_budget_s = 60.0
    again = a.run_many(rows)
    assert {r.status for r in again.values()} == {"succeeded"}
    assert len(_posts(sandbox)) == 1  # the retry polled the running job; no second job


def test_users_refused_in_the_answer_fail_and_the_others_are_sent_again(sandbox, act, site):
    st = sandbox.state
    st.add_person("taken@example.com", "T", "T", location_id=site["branch"], extension="2001", calling=True)
    a = _mover(sandbox, act)
    rows = _rows(a, site, 3)
    out = a.run_many(rows)
    assert isinstance(out[rows[1].row_id], RowFailure) and out[rows[1].row_id].code == "4726"
    assert {out[rows[i].row_id].code for i in (0, 2)} == {"move_not_started"}
    again = a.run_many([rows[0], rows[2]])
    assert {r.status for r in again.values()} == {"succeeded"}


def test_a_refusal_naming_no_user_sends_each_user_alone(sandbox, act, site):
    st = sandbox.state
    st.move_reply = "job"  # refusals come back as one 400 for the whole request
    st.add_person("taken@example.com", "T", "T", location_id=site["branch"], extension="2001", calling=True)
    a = _mover(sandbox, act)
    rows = _rows(a, site, 3)
    out = a.run_many(rows)
    assert {o.code for o in out.values()} == {"move_split"}
    again = a.run_many(rows)
    assert isinstance(again[rows[1].row_id], RowFailure) and again[rows[1].row_id].code == "4726"
    assert again[rows[0].row_id].status == again[rows[2].row_id].status == "succeeded"
    assert [len(p.body["usersList"][0]["users"]) for p in _posts(sandbox)] == [3, 1, 1, 1]


def test_poll_interval_backs_off_and_is_capped(sandbox, act, site):
    sandbox.state.move_job_polls = 8
    a = act(sandbox, "user.move_location")
    slept: list[float] = []
    a.executor.sleep = slept.append
    assert a.run({"email": "u000@example.com", "location_name": "BRANCH"}, site["glob"]).status == "succeeded"
    assert slept == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0, 10.0]
