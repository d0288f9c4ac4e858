"""user.scim_create: one SCIM /Bulk request per ≤100 rows, results mapped back by bulkId."""

from __future__ import annotations

import pytest

from ledger.errors import ActionError, RowFailure, TransientFailure
from ledger.work.ports import ActionResult
from ledger.sandbox import FaultConfig
from ledger.sandbox.ids import key


def _rows(a, n, start=0, glob=None):
    glob = glob or {"org_id": a.sb.state.org_id}
    return [
        a.row({"email": f"user{i:05d}@example.com", "first_name": "User", "last_name": f"N{i}"}, glob, row_id=1000 + i)
        for i in range(start, start + n)
    ]


def _bulk_posts(sb):
    return [r for r in sb.requests() if r.method == "POST" and r.path.endswith("/v2/Bulk")]


def test_250_rows_take_three_bulk_requests_mapped_by_bulk_id(sandbox, act):
    a = act(sandbox, "user.scim_create")
    rows = _rows(a, 250)

    out = a.run_many(rows)

    posts = _bulk_posts(sandbox)
    assert len(posts) == 3
    assert [len(p.body["Operations"] if "Operations" in p.body else p.body["operations"]) for p in posts] == [
        100,
        100,
        50,
    ]
    assert all(p.path == f"/identity/scim/{sandbox.state.org_uuid}/v2/Bulk" for p in posts)
    first_op = posts[0].body["operations"][0]
    assert first_op == {
        "method": "POST",
        "path": "/Users",
        "bulkId": "1000",
        "data": {
            "userName": "user00000@example.com",
            "active": True,
            "name": {"givenName": "User", "familyName": "N0"},
            "displayName": "User N0",
            "emails": [{"value": "user00000@example.com", "type": "work", "primary": True}],
            "userType": "user",  # required by the SCIM user schema (webex-admin.json); wxc_sdk's live tests send it
            "schemas": first_op["data"]["schemas"],
        },
    }
    assert posts[0].body["failOnErrors"] == 100
    assert "urn:ietf:params:scim:schemas:core:2.0:User" in first_op["data"]["schemas"]
    assert set(out) == {r.row_id for r in rows}
    for row in rows:
        res = out[row.row_id]
        assert isinstance(res, ActionResult) and res.status == "succeeded"
        person = sandbox.state.person_by_email(row.payload["email"])
        # the sandbox shuffles the results: a positional mapping would give the wrong ids
        assert res.result["user_id"] == key(person["id"])
        assert sandbox.state.create_count(row.payload["email"]) == 1


def test_mixed_bulk_response_lands_on_the_right_rows(sandbox_factory, act):
    sb = sandbox_factory(faults=FaultConfig(row_errors={"user00003@example.com", "user00007@example.com"}), seed=7)
    existing = {i: sb.state.add_person(f"user{i:05d}@example.com", "Old", str(i)) for i in (2, 5)}
    a = act(sb, "user.scim_create")
    rows = _rows(a, 10)

    out = a.run_many(rows)

    assert len(_bulk_posts(sb)) == 1
    for i, row in enumerate(rows):
        res = out[row.row_id]
        email = row.payload["email"]
        if i in existing:
            assert isinstance(res, ActionResult) and res.status == "skipped"
            assert res.result["reason"] == "user_already_exists"
            assert res.result["user_id"] == key(existing[i])
        elif i in (3, 7):
            assert isinstance(res, RowFailure), res
            assert res.code == "25008" and res.http_status == 400
            assert email in str(res)
            assert sb.state.person_by_email(email) is None
        else:
            assert isinstance(res, ActionResult) and res.status == "succeeded"
            assert res.result["user_id"] == key(sb.state.person_by_email(email)["id"])


def test_second_run_creates_nobody_and_skips_every_row(sandbox, act):
    first = act(sandbox, "user.scim_create")
    rows = _rows(first, 30)
    assert all(r.status == "succeeded" for r in first.run_many(rows).values())
    ids = {r.payload["email"]: key(sandbox.state.person_by_email(r.payload["email"])["id"]) for r in rows}
    sandbox.log.clear()

    again = act(sandbox, "user.scim_create")
    out = again.run_many(_rows(again, 30))

    assert all(isinstance(r, ActionResult) and r.status == "skipped" for r in out.values())
    assert {r.result["email"]: r.result["user_id"] for r in out.values()} == ids
    # batched reads: a call of 30 rows lists the org's people once and sends no bulk at all
    assert again.writes() == []
    assert [(r.method, r.path) for r in sandbox.requests()] == [("GET", "/v1/people")]
    assert all(sandbox.state.create_count(e) == 1 for e in ids)


def test_single_row_execute_uses_the_same_path(sandbox, act):
    a = act(sandbox, "user.scim_create")
    res = a.run({"email": "solo@example.com", "first_name": "So", "last_name": "Lo"}, {"org_id": sandbox.state.org_id})
    assert res.status == "succeeded"
    assert len(_bulk_posts(sandbox)) == 1
    again = a.run(
        {"email": "solo@example.com", "first_name": "So", "last_name": "Lo"}, {"org_id": sandbox.state.org_id}
    )
    assert again.status == "skipped" and again.result["user_id"] == res.result["user_id"]


def test_single_row_execute_raises_the_row_error(sandbox_factory, act):
    sb = sandbox_factory(faults=FaultConfig(row_errors={"bad@example.com"}), seed=2)
    with pytest.raises(RowFailure, match="bad@example.com"):
        act(sb, "user.scim_create").run(
            {"email": "bad@example.com", "first_name": "B", "last_name": "D"}, {"org_id": sb.state.org_id}
        )


def test_dry_run_reads_only(sandbox, act):
    sandbox.state.add_person("user00001@example.com", "Old", "One")
    a = act(sandbox, "user.scim_create", dry_run=True)
    out = a.run_many(_rows(a, 3))
    statuses = [out[1000 + i].status for i in range(3)]
    assert statuses == ["succeeded", "skipped", "succeeded"]
    assert out[1000].planned == {
        "create": {"userName": "user00000@example.com", "displayName": "User N0", "active": True}
    }
    assert a.writes() == []
    assert sandbox.state.person_by_email("user00000@example.com") is None


def test_a_failed_bulk_request_is_raised_for_the_worker_when_it_held_every_row(sandbox_factory, act):
    sb = sandbox_factory(faults=FaultConfig(p503=1.0), seed=1)
    a = act(sb, "user.scim_create")
    with pytest.raises(TransientFailure) as err:
        a.run_many(_rows(a, 5))
    assert err.value.ambiguous and err.value.http_status == 503


def test_a_failed_request_among_several_fails_only_its_rows(sandbox, act, lose):
    a = act(sandbox, "user.scim_create")
    rows = _rows(a, 150)
    lose(a, 3)  # 1 the people list, 2 the first bulk; the second (rows 100..149) is applied, its answer lost
    out = a.run_many(rows)
    assert len(_bulk_posts(sandbox)) == 2
    assert all(out[r.row_id].status == "succeeded" for r in rows[:100])
    for r in rows[100:]:
        assert isinstance(out[r.row_id], TransientFailure) and out[r.row_id].ambiguous


def test_missing_org_is_a_row_failure_without_any_request(sandbox, act):
    a = act(sandbox, "user.scim_create")
    row = a.row({"email": "x@example.com", "first_name": "X", "last_name": "Y"})
    out = a.run_many([row])
    assert isinstance(out[row.row_id], RowFailure) and "org_id" in str(out[row.row_id])
    assert sandbox.requests() == []


def test_an_operation_missing_from_the_response_is_an_ambiguous_transient(sandbox, act):
    from ledger.actions.scim import ScimCreate

    a = act(sandbox, "user.scim_create")
    row = _rows(a, 1)[0]
    executor: ScimCreate = a.executor
    err = executor._outcome("org", row, None)
    assert isinstance(err, ActionError) and err.kind == "transient" and err.ambiguous


def test_lost_bulk_answer_then_retry_creates_no_duplicate(sandbox, act, lose):
    a = act(sandbox, "user.scim_create")
    rows = _rows(a, 5)
    lose(a, 1)  # the bulk POST is applied by the service, its answer never arrives

    with pytest.raises(TransientFailure) as err:
        a.run_many(rows)

    assert err.value.ambiguous
    assert all(sandbox.state.create_count(r.payload["email"]) == 1 for r in rows)

    again = a.run_many(rows)  # the worker's retry of the same rows

    assert all(isinstance(r, ActionResult) and r.status == "skipped" for r in again.values())
    for row in rows:
        person = sandbox.state.person_by_email(row.payload["email"])
        assert again[row.row_id].result["user_id"] == key(person["id"])
        assert sandbox.state.create_count(row.payload["email"]) == 1


def test_bulk_stopped_at_fail_on_errors_still_maps_each_operation_by_bulk_id(sandbox_factory, act):
    """Every operation failed, so Webex ended the bulk with an error status (failOnErrors reached).
    Old code failed every row with that one error; the rows keep their own outcomes instead."""
    sb = sandbox_factory(faults=FaultConfig(row_errors={"user00001@example.com"}), seed=3)
    sb.state.add_person("user00000@example.com")  # exists: its operation answers 409
    a = act(sb, "user.scim_create")
    rows = _rows(a, 2)

    out = a.run_many(rows)

    (post,) = _bulk_posts(sb)
    assert post.status == 400 and post.body["failOnErrors"] == 2
    assert out[1000].status == "skipped" and out[1000].result["reason"] == "user_already_exists"
    assert isinstance(out[1001], RowFailure) and "user00001@example.com" in str(out[1001])
    assert "failOnErrors" not in str(out[1001])


def test_operations_a_stopped_bulk_did_not_process_are_retried_not_failed(sandbox_factory, act):
    sb = sandbox_factory(faults=FaultConfig(row_errors={"user00000@example.com"}), seed=3)
    a = act(sb, "user.scim_create")
    a.executor.fail_on_errors = 1
    rows = _rows(a, 3)

    out = a.run_many(rows)

    assert _bulk_posts(sb)[0].status == 400
    processed = [rid for rid, res in out.items() if isinstance(res, RowFailure)]
    stopped = [rid for rid, res in out.items() if isinstance(res, TransientFailure) and res.code == "bulk_stopped"]
    created = [rid for rid, res in out.items() if isinstance(res, ActionResult)]
    assert processed == [1000] and len(stopped) + len(created) == 2
    for rid in stopped:
        assert not out[rid].ambiguous and "not processed" in str(out[rid])
