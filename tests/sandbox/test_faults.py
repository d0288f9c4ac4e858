"""Fault injection: rates, determinism, rate limit, hang, reset, outage, row errors, Retry-After audit."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
import requests
from wxc_sdk.people import Person
from wxc_sdk.rest import RestError

from ledger.sandbox import FaultConfig

H = {"Authorization": "Bearer test-token"}


def _hammer(sb, n: int) -> list:
    s = requests.Session()
    out = []
    for _ in range(n):
        try:
            out.append(s.get(sb.base_url + "/licenses", headers=H, timeout=5).status_code)
        except requests.ConnectionError:
            out.append("conn")
            s = requests.Session()
    return out


def test_rates_within_a_few_points_and_deterministic(sandbox_factory):
    cfg = dict(p429=0.10, p503=0.05, p500=0.03, p502=0.02, p423=0.02, preset=0.02, phang=0.01,
               hang_seconds=0.01)
    sequences = []
    for _ in range(2):
        sb = sandbox_factory(seed=42, faults=FaultConfig(**cfg))
        _hammer(sb, 2000)
        recs = sb.requests()
        assert len(recs) == 2000
        sequences.append([r.fault for r in recs])
    assert sequences[0] == sequences[1]
    counts = Counter(sequences[0])
    for name, p in (("429", 0.10), ("503", 0.05), ("500", 0.03), ("502", 0.02), ("423", 0.02),
                    ("reset", 0.02), ("hang", 0.01)):
        assert abs(counts[name] / 2000 - p) < 0.03, (name, counts[name])
    # statuses and Retry-After match the faults
    for r in sb.requests():
        if r.fault == "429":
            assert r.status == 429 and r.retry_after == 1
        if r.fault in ("reset", "hang"):
            assert r.status is None
        if r.fault is None:
            assert r.status == 200


def test_different_seed_different_sequence(sandbox_factory):
    seqs = []
    for seed in (1, 2):
        sb = sandbox_factory(seed=seed, faults=FaultConfig(p429=0.3))
        _hammer(sb, 50)
        seqs.append([r.fault for r in sb.requests()])
    assert seqs[0] != seqs[1]


def test_429_headers_and_sdk_error(sandbox, api):
    sandbox.faults = FaultConfig(p429=1.0, retry_after=3)
    with pytest.raises(RestError) as ei:
        api.people.me()
    assert ei.value.response.status_code == 429
    assert ei.value.response.headers["Retry-After"] == "3"
    assert ei.value.response.headers["TrackingID"].startswith("SIMPLE_")


def test_rate_limit_per_second(sandbox):
    sandbox.faults = FaultConfig(rate_limit_per_s=5)
    s = requests.Session()
    res = [s.get(sandbox.base_url + "/licenses", headers=H) for _ in range(12)]
    codes = [r.status_code for r in res]
    assert codes[:5] == [200] * 5 and set(codes[5:]) == {429}
    ra = [int(r.headers["Retry-After"]) for r in res if r.status_code == 429]
    assert all(a == 1 for a in ra)
    time.sleep(1.05)
    assert s.get(sandbox.base_url + "/licenses", headers=H).status_code == 200


def test_rate_limit_per_minute_retry_after(sandbox):
    sandbox.faults = FaultConfig(rate_limit_per_min=3)
    s = requests.Session()
    codes = [s.get(sandbox.base_url + "/licenses", headers=H) for _ in range(4)]
    assert [c.status_code for c in codes] == [200, 200, 200, 429]
    assert 58 <= int(codes[3].headers["Retry-After"]) <= 60


def test_hang_does_not_block_and_stop_is_prompt(sandbox_factory):
    sb = sandbox_factory(faults=FaultConfig(phang=1.0, hang_seconds=120))
    result = {}

    def hung():
        try:
            requests.get(sb.base_url + "/people/me", headers=H, timeout=30)
            result["r"] = "answered"
        except requests.RequestException as e:
            result["r"] = type(e).__name__

    t = threading.Thread(target=hung)
    t.start()
    time.sleep(0.2)
    sb.faults = FaultConfig()
    t0 = time.monotonic()
    assert requests.get(sb.base_url + "/people/me", headers=H, timeout=5).status_code == 200
    assert time.monotonic() - t0 < 1
    t0 = time.monotonic()
    sb.stop()
    assert time.monotonic() - t0 < 3
    t.join(5)
    assert not t.is_alive() and result["r"] != "answered"
    assert any(r.fault == "hang" for r in sb.requests())


def test_reset_is_connection_error(sandbox, api):
    sandbox.faults = FaultConfig(preset=1.0)
    with pytest.raises(requests.ConnectionError):
        requests.get(sandbox.base_url + "/people/me", headers=H, timeout=5)
    with pytest.raises(requests.ConnectionError):
        api.people.me()


def test_outage_live_toggle_and_window(sandbox_factory):
    sb = sandbox_factory()
    sb.faults.outage = True
    assert requests.get(sb.base_url + "/people/me", headers=H).status_code == 503
    sb.faults.outage = False
    assert requests.get(sb.base_url + "/people/me", headers=H).status_code == 200
    sb2 = sandbox_factory(faults=FaultConfig.parse("outage=0-0.4"))
    r = requests.get(sb2.base_url + "/people/me", headers=H)
    assert r.status_code == 503 and r.headers["Retry-After"] == "1"
    time.sleep(0.5)
    assert requests.get(sb2.base_url + "/people/me", headers=H).status_code == 200
    # admin endpoints are never faulted
    sb2.faults.outage = True
    assert requests.get(sb2.root_url + "/_admin/state").status_code == 200


def test_row_errors_writes_fail_reads_work(sandbox, api, calling_loc):
    pid = sandbox.state.add_person("bad@x.com", location_id=calling_loc, extension="1", calling=True)
    sandbox.faults = FaultConfig(row_errors={"bad@x.com", "Sala X", "+34931000001"})
    with pytest.raises(RestError) as ei:
        api.people.create(Person(emails=["bad@x.com"], display_name="B"))
    assert ei.value.response.status_code == 400 and ei.value.code == 25008 and "bad@x.com" in ei.value.description
    # a write on the person's id (no email in it) fails too; reads work
    fwd = api.person_settings.forwarding.read(pid)
    with pytest.raises(RestError) as ei:
        api.person_settings.forwarding.configure(pid, fwd)
    assert ei.value.code == 25008
    assert api.people.details(pid).emails == ["bad@x.com"]
    r = api.telephony.location.number.add(calling_loc, ["+34931000001"])  # swallowed 400, raw body
    assert r.errors == []
    assert [x for x in sandbox.requests() if x.fault == "row_error"][-1].status == 400
    # other rows are fine
    assert api.people.create(Person(emails=["good@x.com"], display_name="G")).person_id


def test_retry_after_violations(sandbox):
    sandbox.faults = FaultConfig(p429=1.0, retry_after=1)
    assert requests.get(sandbox.base_url + "/licenses", headers=H).status_code == 429
    sandbox.faults = FaultConfig()
    time.sleep(0.1)
    requests.get(sandbox.base_url + "/licenses", headers=H)  # too early: inside the pause
    v = sandbox.retry_after_violations()
    assert len(v) == 1 and v[0].status == 200
    time.sleep(1.0)
    requests.get(sandbox.base_url + "/licenses", headers=H)  # after the pause
    assert len(sandbox.retry_after_violations()) == 1


def test_latency(sandbox_factory):
    sb = sandbox_factory(latency_ms=100)
    t0 = time.monotonic()
    requests.get(sb.base_url + "/licenses", headers=H)
    assert time.monotonic() - t0 >= 0.1


def test_parse_grammar():
    c = FaultConfig.parse("429=0.1,503=0.05,hang=0.02,reset=0.02,retry_after=2,outage=10-50,rate=5/s,"
                          "row_error=a@x.com|b@x.com,latency=20~30,423=0.01,500=0.01,502=0.01,hang_s=3")
    assert (c.p429, c.p503, c.phang, c.preset, c.retry_after) == (0.1, 0.05, 0.02, 0.02, 2)
    assert (c.outage_start, c.outage_end, c.rate_limit_per_s) == (10, 50, 5)
    assert c.row_errors == {"a@x.com", "b@x.com"} and (c.latency_ms, c.latency_jitter_ms) == (20, 30)
    assert c.hang_seconds == 3 and c.p423 == 0.01
    assert FaultConfig.parse("rate=300/min").rate_limit_per_min == 300
    assert FaultConfig.parse("outage").outage is True
    assert FaultConfig.parse("") == FaultConfig()
    for bad in ("429=2", "foo=1", "429", "rate=5/h", "outage=a-b", "retry_after=x", "429=0.6,503=0.6"):
        with pytest.raises(ValueError) as ei:
            FaultConfig.parse(bad)
        if bad != "429=0.6,503=0.6":
            assert repr(bad.split(",")[0]) in str(ei.value)


def test_lost_answer_write_is_applied(sandbox, api):
    sandbox.faults = FaultConfig(plost=1.0)
    with pytest.raises(requests.ConnectionError):
        api.people.create(Person(emails=["amb@x.com"], display_name="A"))
    assert sandbox.state.create_count("amb@x.com") == 1  # the create happened although the client saw an error
    rec = sandbox.requests()[-1]
    assert rec.fault == "lost" and rec.applied_status == 200 and rec.status is None
    sandbox.faults = FaultConfig()
    with pytest.raises(RestError) as ei:  # a blind retry hits 409
        api.people.create(Person(emails=["amb@x.com"], display_name="A"))
    assert ei.value.response.status_code == 409


def test_forwarding_busy_4003(sandbox, api, calling_loc):
    pid = sandbox.state.add_person("busy@x.com", location_id=calling_loc, extension="9", calling=True)
    sandbox.faults = FaultConfig.parse("fwd_busy=busy@x.com")
    fwd = api.person_settings.forwarding.read(pid)
    with pytest.raises(RestError) as ei:
        api.person_settings.forwarding.configure(pid, fwd)
    assert ei.value.code == 4003 and "UserCallForwardingBusy" in ei.value.description
    r = requests.put(f"{sandbox.base_url}/telephony/config/people/{pid}/callForwarding", headers=H,
                     json={"enabled": True, "destination": "539", "ringReminderEnabled": False,
                           "destinationVoicemailEnabled": False})
    assert r.status_code == 204


def test_forbidden_writes_answer_webex_shaped_403_reads_work(sandbox, api):
    sandbox.faults = FaultConfig.parse("forbidden=WRITE:people*")
    with pytest.raises(RestError) as ei:
        api.people.create(Person(emails=["nope@x.com"], display_name="N"))
    resp = ei.value.response
    assert resp.status_code == 403 and ei.value.code == 403000
    assert "missing required scopes" in ei.value.description
    body = resp.json()
    assert set(body) >= {"message", "errors", "trackingId"} and body["errors"][0]["errorCode"] == 403000
    assert body["trackingId"] == resp.headers["TrackingID"]
    assert sandbox.state.create_count("nope@x.com") == 0  # refused before anything was written
    assert api.people.me().emails  # a GET of the same prefix is not refused
    assert [r.fault for r in sandbox.requests()] == ["forbidden", None]
    # the 401 check comes first: a wrong token still gets 401, not 403
    r = requests.post(sandbox.base_url + "/people", headers={"Authorization": "Bearer x"}, json={"emails": ["a@x.com"]})
    assert r.status_code == 401


def test_forbidden_rules_match_method_and_glob():
    from ledger.sandbox.faults import forbidden_hit

    cfg = FaultConfig.parse("forbidden=GET:workspaces/*/features/*|PUT:telephony/config/*|people")
    assert cfg.forbidden == {"GET:workspaces/*/features/*", "PUT:telephony/config/*", "people"}
    assert forbidden_hit(cfg, "GET", "/v1/workspaces/abc/features/callForwarding") == "GET:workspaces/*/features/*"
    assert forbidden_hit(cfg, "PUT", "/v1/workspaces/abc/features/callForwarding") is None
    assert forbidden_hit(cfg, "PUT", "/v1/telephony/config/people/p1/numbers") == "PUT:telephony/config/*"
    assert forbidden_hit(cfg, "POST", "/v1/telephony/config/people/p1/numbers") is None
    assert forbidden_hit(cfg, "DELETE", "/v1/people") == "people"  # no method: any method
    assert forbidden_hit(cfg, "GET", "/v1/people/p1") is None  # the glob matches the whole path
    every_write = FaultConfig.parse("forbid=WRITE:*")
    assert forbidden_hit(every_write, "POST", "/identity/scim/o/v2/Users") == "WRITE:*"
    assert forbidden_hit(every_write, "GET", "/v1/licenses") is None
    assert FaultConfig.from_dict(every_write.to_dict()) == every_write
    for bad in ("forbidden=FETCH:people", "forbidden=POST:"):
        with pytest.raises(ValueError) as ei:
            FaultConfig.parse(bad)
        assert repr(bad) in str(ei.value)
