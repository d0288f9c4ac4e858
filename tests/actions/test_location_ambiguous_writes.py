"""Writes whose answer was lost (applied by Webex, connection dropped): the row fails as an ambiguous
transient error, and its retry reads first and never applies the write twice."""

from __future__ import annotations

import pytest

from ledger.errors import TransientFailure

SITE = "CUV93470292900"


@pytest.fixture
def site(sandbox):
    st = sandbox.state
    rg = st.add_route_group("RG_TEST")
    loc = st.add_location(SITE, calling_enabled=False)
    sandbox.log.clear()
    return {"rg": rg, "loc": loc}


def posts(sb, suffix: str) -> list[int | None]:
    return [r.status for r in sb.requests() if r.method == "POST" and r.path.endswith(suffix)]


def test_lost_calling_enablement_is_not_sent_again(sandbox, act, lose, site):
    a = act(sandbox, "location.pstn")
    row = a.row({"location_id": site["loc"], "premise_route_id": site["rg"], "announcement_language": "es_es",
                 "preferred_language": "es_ES"})
    # 1 the org's calling locations (the site is not among them: not enabled), 2 the org's locations (the
    # enable body's name, time zone, address), 3 the enabling POST: applied, answer lost
    lose(a, 3)
    with pytest.raises(TransientFailure) as err:
        a.executor.execute(row)
    assert err.value.ambiguous
    assert sandbox.state.get_location(site["loc"])["_calling"] is True

    res = a.executor.execute(row)

    assert res.status == "succeeded"
    assert "enable_calling" not in res.result["changed"]
    assert len(posts(sandbox, "/telephony/config/locations")) == 1
    assert sandbox.state.get_location(site["loc"])["_pstn"]["pstnConnectionType"] == "LOCAL_GATEWAY"


def test_lost_numbers_add_is_rechecked_and_skipped(sandbox, act, lose, site):
    sandbox.state.get_location(site["loc"])["_calling"] = True
    a = act(sandbox, "location.numbers")
    row = a.row({"location_id": site["loc"], "phone_numbers": "+34516789012,+34517890123"})
    lose(a, 2)  # 1 inventory read, 2 the POST
    with pytest.raises(TransientFailure) as err:
        a.executor.execute(row)
    assert err.value.ambiguous

    res = a.executor.execute(row)

    assert res.status == "skipped"
    assert len(posts(sandbox, "/numbers")) == 1
    assert sorted(sandbox.state.numbers_in(site["loc"])) == ["+34516789012", "+34517890123"]


def test_lost_main_number_update_is_rechecked_and_skipped(sandbox, act, lose, site):
    sandbox.state.get_location(site["loc"])["_calling"] = True
    sandbox.state.add_number(site["loc"], "+34935678901")
    a = act(sandbox, "location.main_number")
    row = a.row({"location_id": site["loc"], "calling_line_id": "+34935678901"})
    lose(a, 3)  # 1 the org's calling locations, 2 inventory check, 3 the PUT
    with pytest.raises(TransientFailure):
        a.executor.execute(row)

    sandbox.log.clear()
    assert a.executor.execute(row).status == "skipped"
    assert a.writes() == []


def test_lost_workspace_create_does_not_create_twice(sandbox, act, lose, site):
    sandbox.state.get_location(site["loc"])["_calling"] = True
    a = act(sandbox, "workspace.create")
    row = a.row({"display_name": "Sala Juntas", "location_id": site["loc"], "extension": "8001"})
    lose(a, 3)  # 1 workspace lookup, 2 the licence list (the default Professional licence), 3 the POST
    with pytest.raises(TransientFailure) as err:
        a.executor.execute(row)
    assert err.value.ambiguous

    res = a.executor.execute(row)

    assert res.status == "skipped"
    assert res.result["workspace_id"] == sandbox.state.workspaces_by_name("Sala Juntas")[0]["id"]
    assert sandbox.state.workspace_create_counts["Sala Juntas"] == 1
