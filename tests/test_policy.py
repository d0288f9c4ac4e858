"""Retry policy (tenacity with a fake sleep), the run gate and the breaker: pure logic, no I/O."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import replace

import circuitbreaker
import pytest

from ledger.errors import RowFailure, RunStopped, SystemicFailure, Throttled, TransientFailure
from ledger.work.breaker import SystemicBreaker
from ledger.work.gate import RunGate
from ledger.work.retry import RowTry, build_retrying
from ledger.work.ports import parse_retry_after
from ledger.work.profiles import PROFILES, get_profile

FAST = PROFILES["fast"]


class Script:
    """A function failing with the given exceptions in order, then returning 'ok'; counts like the worker."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, ctx: RowTry) -> str:
        self.calls += 1
        if self.errors:
            exc = self.errors.pop(0)
            if isinstance(exc, Throttled):
                ctx.throttles += 1
            else:
                ctx.counted += 1
            raise exc
        ctx.counted += 1
        return "ok"


def _retrying(profile=FAST, **kw):  # type: ignore[no-untyped-def]
    sleeps: list[float] = []
    r = build_retrying(profile, sleep=sleeps.append, rng=random.Random(1), **kw)
    return r, sleeps


def test_transient_errors_are_retried_until_success() -> None:
    r, sleeps = _retrying()
    fn = Script(TransientFailure("503"), TransientFailure("timeout"))
    assert r(fn, RowTry()) == "ok"
    assert fn.calls == 3 and len(sleeps) == 2
    assert all(0 <= s <= FAST.backoff_max_s for s in sleeps)


def test_row_and_systemic_failures_are_not_retried() -> None:
    for exc in (RowFailure("bad email"), SystemicFailure("403")):
        r, sleeps = _retrying()
        fn = Script(exc)
        with pytest.raises(type(exc)):
            r(fn, RowTry())
        assert fn.calls == 1 and sleeps == []


def test_attempts_are_bounded_and_the_original_error_surfaces() -> None:
    r, sleeps = _retrying(replace(FAST, attempts=3))
    fn = Script(*[TransientFailure(f"503 #{i}") for i in range(10)])
    with pytest.raises(TransientFailure, match="503 #2"):
        r(fn, RowTry())
    assert fn.calls == 3 and len(sleeps) == 2


def test_retry_after_always_wins_over_backoff() -> None:
    r, sleeps = _retrying(replace(FAST, backoff_max_s=0.5))
    fn = Script(TransientFailure("503", retry_after=7.0), Throttled("429", retry_after=3.0))
    assert r(fn, RowTry()) == "ok"
    assert sleeps == [7.0, 3.0]


def test_throttled_tries_do_not_consume_attempts() -> None:
    r, sleeps = _retrying(replace(FAST, attempts=2))
    fn = Script(*[Throttled("429", retry_after=1.0) for _ in range(6)], TransientFailure("503"))
    assert r(fn, RowTry()) == "ok"  # 6 throttles + 1 transient + success: within 2 counted attempts
    assert fn.calls == 8 and sleeps.count(1.0) == 6


def test_endless_throttling_of_one_row_is_bounded() -> None:
    r, _ = _retrying(replace(FAST, max_throttles_per_row=4))
    fn = Script(*[Throttled("429", retry_after=1.0) for _ in range(20)])
    with pytest.raises(Throttled):
        r(fn, RowTry())
    assert fn.calls == 5


def test_row_time_budget_counts_elapsed_time_but_not_time_blocked_in_the_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = {"t": 0.0, "blocked": 0.0}
    profile = replace(FAST, attempts=50, row_budget_s=10)

    def sleep(s: float) -> None:
        clock["t"] += s

    r = build_retrying(profile, sleep=sleep, rng=random.Random(1), blocked=lambda: clock["blocked"])
    monkeypatch.setattr(time, "monotonic", lambda: clock["t"])  # tenacity's clock for the elapsed time
    if True:
        fn = Script(*[TransientFailure("503", retry_after=3.0) for _ in range(50)])
        with pytest.raises(TransientFailure):
            r(fn, RowTry())
        assert fn.calls == 4  # tries at 0, 3, 6, 9: after the 4th, 9 + 3 >= 10 s
        clock.update(t=0.0, blocked=0.0)

        def blocked_fn(ctx: RowTry) -> str:
            clock["blocked"] += 3.0  # the same 3 s spent paused by the run gate: not the row's fault
            return fn2(ctx)

        fn2 = Script(*[TransientFailure("503", retry_after=3.0) for _ in range(6)])
        assert r(blocked_fn, RowTry()) == "ok"


def test_stopped_run_is_not_retried() -> None:
    r, sleeps = _retrying()
    fn = Script(RunStopped("stop"))
    with pytest.raises(RunStopped):
        r(fn, RowTry())
    assert fn.calls == 1 and sleeps == []


def test_parse_retry_after_seconds_and_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_unknown_profile_is_a_config_error() -> None:
    from ledger.errors import ConfigError

    with pytest.raises(ConfigError, match="default, patient, fast"):
        get_profile("reckless")


def test_work_help_documents_every_profile_as_defined() -> None:
    from click.testing import CliRunner

    from ledger.cli import cli

    out = CliRunner().invoke(cli, ["work", "--help"]).output
    for p in PROFILES.values():
        line = next(line for line in out.splitlines() if line.strip().startswith(p.name + " "))
        rest = line + next(iter(out.split(line, 1)[1].splitlines()[1:2]), "")
        assert f"{p.attempts} tries" in rest
        assert f"timeouts {p.connect_timeout_s:g}/{p.read_timeout_s:g}/{p.call_timeout_s:g}s" in rest


# --- the gate ------------------------------------------------------------------------------------


def test_throttle_pauses_every_thread_until_retry_after_has_passed() -> None:
    gate = RunGate()
    gate.after_response(429, {"Retry-After": "1"}, 0.01)
    until = gate.paused_until
    sent: list[float] = []

    def request() -> None:
        gate.before_request()
        sent.append(time.time())

    threads = [threading.Thread(target=request) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(sent) == 3 and min(sent) >= until  # no request inside the window
    assert gate.take_pause_to_persist() == (until, "HTTP 429 Retry-After 1s")
    assert gate.take_pause_to_persist() is None


def test_a_pause_from_the_ledger_is_honoured_but_not_persisted_again() -> None:
    gate = RunGate()
    gate.pause_until(time.time() + 0.2, "stored", persist=False)
    gate.before_request()
    assert time.time() >= gate.paused_until
    assert gate.take_pause_to_persist() is None


def test_stop_wakes_blocked_threads_with_run_stopped() -> None:
    gate = RunGate()
    gate.pause_until(time.time() + 3600, "long pause")
    errors: list[BaseException] = []

    def request() -> None:
        try:
            gate.before_request()
        except RunStopped as exc:
            errors.append(exc)

    t = threading.Thread(target=request)
    t.start()
    gate.stop("breaker open")
    t.join(10)
    assert not t.is_alive() and len(errors) == 1
    with pytest.raises(RunStopped):
        gate.sleep(3600)


def test_stop_retrying_ends_waits_but_lets_requests_through() -> None:
    gate = RunGate()
    gate.stop_retrying("signal")
    with pytest.raises(RunStopped):
        gate.sleep(3600)
    gate.before_request()  # a row already under way may still send
    assert gate.stats.requests == 1


def test_rate_halves_after_a_429_and_recovers_additively_up_to_the_cap() -> None:
    now = {"t": 1000.0}
    gate = RunGate(max_rate_per_min=600, clock=lambda: now["t"])  # 10 req/s cap
    assert gate.rate == 10
    gate.throttled(429, 1.0)
    assert gate.rate == 5
    gate.throttled(429, 1.0)  # within 30 s: no second halving
    assert gate.rate == 5
    now["t"] += 1.0 + 4  # pause over, 4 s of recovery
    gate._recover(now["t"])
    assert 5 < gate.rate < 10
    now["t"] += 1000
    gate._recover(now["t"])
    assert gate.rate == 10  # never above --max-rate


def test_without_a_cap_the_limit_is_lifted_after_recovery() -> None:
    now = {"t": 1000.0}
    gate = RunGate(clock=lambda: now["t"])
    for i in range(50):  # 20 requests/s observed
        now["t"] += 0.05
        gate._take_slot(now["t"])
    gate.throttled(429, 1.0)
    assert gate.rate == pytest.approx(10, rel=0.05)
    now["t"] += 10_000
    gate._recover(now["t"])
    assert gate.rate is None


# --- the breaker ---------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    c = FakeClock()
    monkeypatch.setattr(circuitbreaker, "monotonic", c)  # the library's own clock (recovery timeout)
    return c


def _breaker(clock: FakeClock, **kw: object) -> SystemicBreaker:
    profile = replace(FAST, breaker_min_volume=5, breaker_ratio=0.5, breaker_consecutive=100, recovery_s=10, **kw)
    return SystemicBreaker(profile, clock=clock)


def test_breaker_opens_on_ratio_over_volume_not_on_scattered_failures(clock: FakeClock) -> None:
    b = _breaker(clock)
    for i in range(100):  # 20 % failures, never opens (circuitbreaker alone counts only consecutive ones)
        clock.t += 0.01
        if i % 5 == 0:
            b.record_failure("503")
        else:
            b.record_success()
    assert b.is_closed
    for _ in range(4):
        b.record_failure("503")
    assert b.is_closed  # 4 + 20 failures / 104 in the window < 50 %
    b2 = _breaker(clock)
    for _ in range(3):
        b2.record_success()
    for _ in range(4):
        b2.record_failure("503")
    assert b2.is_closed  # below the volume
    b2.record_failure("503")
    assert b2.is_open and b2.last_failure == "503"


def test_window_forgets_old_failures(clock: FakeClock) -> None:
    b = _breaker(clock)
    for _ in range(4):
        b.record_failure("503")
    clock.t += FAST.breaker_window_s + 1
    b.record_success()
    b.record_failure("503")
    assert b.is_closed


def test_consecutive_failures_open_it_too(clock: FakeClock) -> None:
    b = SystemicBreaker(replace(FAST, breaker_consecutive=3, breaker_min_volume=1000), clock=clock)
    b.record_failure("x")
    b.record_failure("x")
    b.record_success()
    b.record_failure("x")
    b.record_failure("x")
    assert b.is_closed
    b.record_failure("x")
    assert b.is_open


def test_exactly_one_probe_after_recovery_then_close_or_reopen(clock: FakeClock) -> None:
    b = _breaker(clock)
    for _ in range(5):  # 5 failures of 5 in the window: over the volume and the ratio
        b.record_failure("outage")
    assert b.is_open and not b.try_probe()
    clock.t += 10.5
    assert b.state == circuitbreaker.STATE_HALF_OPEN
    assert b.try_probe() and not b.try_probe()  # a single probe
    b.probe_result(False, "still 503")
    assert b.is_open and b.last_failure == "still 503"
    assert b.outage_s() == pytest.approx(10.5)
    clock.t += 10.5
    assert b.try_probe()
    b.probe_result(True)
    assert b.is_closed and b.outage_s() == 0.0
    for _ in range(4):  # the window was cleared: old failures do not re-open it
        b.record_failure("503")
    assert b.is_closed


def test_breakers_are_independent_instances(clock: FakeClock) -> None:
    a, b = _breaker(clock), _breaker(clock)
    for _ in range(5):
        a.record_failure("x")
    assert a.is_open and b.is_closed


def test_a_pause_stored_by_another_worker_is_read_before_sending() -> None:
    stored = {"until": time.time() + 0.3}
    gate = RunGate(shared_pause=lambda: stored["until"])
    gate.before_request()
    assert time.time() >= stored["until"]  # no request before the other worker's pause ended
    assert gate.take_pause_to_persist() is None  # not ours to store again


def test_an_unreadable_shared_pause_does_not_fail_the_request() -> None:
    def broken() -> float:
        raise OSError("database is locked")

    gate = RunGate(shared_pause=broken)
    gate.before_request()
    assert gate.stats.requests == 1
