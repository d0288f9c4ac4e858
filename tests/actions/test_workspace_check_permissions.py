"""workspace.check_permissions: read-only; 400 + errorCode 4003 on a read → row error naming what is missing."""

from __future__ import annotations

import pytest

from ledger.errors import RowFailure
from ledger.sandbox import FaultConfig

SITE = "CUV93470292900"


@pytest.fixture
def site(sandbox):
    st = sandbox.state
    loc = st.add_location(SITE, calling_enabled=True)
    ws = st.add_workspace("Sala Juntas", loc, calling="webexCalling", extension="8001")
    sandbox.log.clear()
    return {"loc": loc, "ws": ws}


def denying(sandbox_factory, *entries: str):
    """A sandbox whose GETs of these workspaces' features answer 400 + errorCode 4003 (FaultConfig.read_denied)."""
    sb = sandbox_factory(faults=FaultConfig(read_denied=set(entries)))
    loc = sb.state.add_location(SITE, calling_enabled=True)
    sb.state.add_workspace("Sala Juntas", loc, calling="webexCalling", extension="8001")
    return sb


def test_readable_workspace_succeeds_and_writes_nothing(sandbox, act, site):
    a = act(sandbox, "workspace.check_permissions")
    res = a.run({"workspace_name": "Sala Juntas", "location_name": SITE})

    assert res.status == "succeeded"
    assert res.result["workspace_id"] == site["ws"]
    assert res.result["checked"] == ["forwarding", "outgoing_permissions"]
    assert res.result["forwarding_always"] == {"enabled": False, "destination": ""}
    assert a.writes() == []
    paths = [r.path for r in sandbox.requests()]
    assert f"/v1/workspaces/{site['ws']}/features/callForwarding" in paths
    assert f"/v1/workspaces/{site['ws']}/features/outgoingPermission" in paths


def test_4003_on_permissions_is_a_row_error_naming_it(sandbox_factory, act):
    sb = denying(sandbox_factory, "Sala Juntas:outgoingPermission")
    a = act(sb, "workspace.check_permissions")

    with pytest.raises(RowFailure) as err:
        a.run({"workspace_name": "Sala Juntas"})

    e = err.value
    assert e.code == "4003"
    assert e.message.startswith("the token cannot read outgoing permissions of workspace Sala Juntas (4003)")
    assert e.detail == {"denied": ["outgoing permissions"], "readable": ["forwarding"]}
    assert e.tracking_id
    assert [r.fault for r in sb.requests() if r.path.endswith("/outgoingPermission")] == ["read_denied"]
    assert a.writes() == []


def test_4003_on_both_reads_names_both(sandbox_factory, act):
    sb = denying(sandbox_factory, "Sala Juntas")
    a = act(sb, "workspace.check_permissions")
    with pytest.raises(RowFailure) as err:
        a.run({"workspace_name": "Sala Juntas"})
    assert "cannot read forwarding and outgoing permissions" in err.value.message


def test_other_errors_are_not_reported_as_4003(sandbox, act, site):
    sandbox.state.add_workspace("Almacén")  # no location, no calling: the forwarding read fails
    a = act(sandbox, "workspace.check_permissions")
    with pytest.raises(RowFailure) as err:
        a.run({"workspace_name": "Almacén"})
    assert err.value.code != "4003"
    assert "cannot read" not in err.value.message


def test_dry_run_is_the_same_reads(sandbox, act, site):
    a = act(sandbox, "workspace.check_permissions", dry_run=True)
    res = a.run({"workspace_name": "Sala Juntas"})
    assert res.status == "succeeded"
    assert res.planned == {}
    assert a.writes() == []
