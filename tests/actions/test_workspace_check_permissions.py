"""workspace.check_permissions: read-only; 400 + errorCode 4003 on a read → row error naming what is missing."""

from __future__ import annotations

import pytest

from ledger.errors import RowFailure
from ledger.sandbox import errors as sandbox_errors

SITE = "CUV93470292900"


@pytest.fixture
def site(sandbox):
    st = sandbox.state
    loc = st.add_location(SITE, calling_enabled=True)
    ws = st.add_workspace("Sala Juntas", loc, calling="webexCalling", extension="8001")
    sandbox.log.clear()
    return {"loc": loc, "ws": ws}


class DeniedFeatures(dict):
    """The workspace's stored features, with some of them refused on read as Webex does (400, 4003)."""

    def __init__(self, features: dict, denied: set[str]):
        super().__init__(features)
        self.denied = denied

    def __getitem__(self, key: str):
        if key in self.denied:
            raise sandbox_errors.ApiError(400, "Unauthorized", 4003, "[Error 4003] User is not authorized")
        return super().__getitem__(key)


def deny(sandbox, ws: str, *features: str) -> None:
    w = sandbox.state.get_workspace(ws)
    w["_features"] = DeniedFeatures(w["_features"], set(features))


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


def test_4003_on_permissions_is_a_row_error_naming_it(sandbox, act, site):
    deny(sandbox, site["ws"], "outgoingPermission")
    a = act(sandbox, "workspace.check_permissions")

    with pytest.raises(RowFailure) as err:
        a.run({"workspace_name": "Sala Juntas"})

    e = err.value
    assert e.code == "4003"
    assert e.message.startswith("the token cannot read outgoing permissions of workspace Sala Juntas (4003)")
    assert e.detail == {"denied": ["outgoing permissions"], "readable": ["forwarding"]}
    assert e.tracking_id


def test_4003_on_both_reads_names_both(sandbox, act, site):
    deny(sandbox, site["ws"], "outgoingPermission", "callForwarding")
    a = act(sandbox, "workspace.check_permissions")
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
