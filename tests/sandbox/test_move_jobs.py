"""The sandbox's move-users jobs against the reference (state/jobs.py cites the files)."""

from __future__ import annotations

import pytest

from ledger.sandbox import errors as E
from ledger.sandbox.state import SandboxState
from ledger.sandbox.state.jobs import MOVE_DUPLICATE_USER, MOVE_TOO_MANY, MOVE_VALIDATE_SINGLE


@pytest.fixture
def st():
    s = SandboxState(seed=1)
    s.hq = s.add_location("HQ", calling_enabled=True)
    s.branch = s.add_location("BR", calling_enabled=True)
    s.pids = [s.add_person(f"p{i}@x.com", location_id=s.hq, extension=str(100 + i), calling=True) for i in range(101)]
    return s


def _body(st, pids, validate=False):
    return {"usersList": [{"locationId": st.branch, "validate": validate, "users": [{"userId": p} for p in pids]}]}


@pytest.mark.parametrize("pids, validate, code", [
    (lambda s: s.pids, False, MOVE_TOO_MANY),
    (lambda s: [s.pids[0], s.pids[0]], False, MOVE_DUPLICATE_USER),
    (lambda s: s.pids[:2], True, MOVE_VALIDATE_SINGLE),
])
def test_request_rules(st, pids, validate, code):
    with pytest.raises(E.ApiError) as err:
        st.api_move_users(_body(st, pids(st), validate), "T")
    assert err.value.status == 400 and err.value.code == code


def test_a_job_takes_several_polls_then_moves_and_lists_errors_only_when_not_clean(st):
    st.move_fail = {"p1@x.com"}
    status, answer = st.api_move_users(_body(st, st.pids[:3]), "T1")
    job = answer["response"]["jobDetails"]
    assert status == 200 and job["latestExecutionStatus"] == "STARTING" and job["counts"]["totalMoves"] == 3
    assert [st.job_view(job["id"])["latestExecutionStatus"] for _ in range(3)] == ["STARTED", "STARTED", "COMPLETED"]
    done = st.job_view(job["id"])
    assert done["latestExecutionExitCode"] == "COMPLETED_WITH_ERRORS" and done["counts"]["failed"] == 1
    (err,) = st.job_errors(job["id"])
    assert err["item"] == st.pids[1] and err["itemNumber"] == 1 and err["trackingId"].startswith("T1")
    assert err["error"]["message"][0]["code"] == "1026015"
    assert st.get_person(st.pids[0])["locationId"] == st.branch and st.get_person(st.pids[1])["locationId"] == st.hq
    st.move_fail = set()
    _, again = st.api_move_users(_body(st, st.pids[5:6]), "T2")
    jid = again["response"]["jobDetails"]["id"]
    for _ in range(3):
        st.job_view(jid)
    assert st.job_errors(jid) == []
    assert st.check_indexes() == []
