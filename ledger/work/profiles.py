"""Retry profiles: named sets of retry, timeout and breaker settings (``--retry-profile NAME``).

Light on purpose (no tenacity, no circuitbreaker): the CLI renders ``profiles_help()`` in
``ledger work --help`` without paying for the worker's imports.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import ConfigError


@dataclass(frozen=True)
class RetryProfile:
    """A named set of retry, timeout and breaker settings (``ledger work --retry-profile NAME``)."""

    name: str
    description: str
    attempts: int  # tries per row for transient errors; throttled tries (429/423) are not counted
    row_budget_s: float  # stop retrying a row when the next try would start after this (pauses excluded)
    backoff_base_s: float  # random exponential backoff: up to base * 2**n seconds ...
    backoff_max_s: float  # ... capped here (a Retry-After always wins)
    connect_timeout_s: float  # TCP connect timeout of every request
    read_timeout_s: float  # longest silence while waiting for the answer
    call_timeout_s: float  # whole-call bound of one request (a server trickling bytes is cut here)
    breaker_window_s: float  # sliding window of attempts the breaker looks at
    breaker_min_volume: int  # failures in the window before the ratio counts
    breaker_ratio: float  # failure ratio in the window that opens the breaker
    breaker_consecutive: int  # or this many consecutive systemic/transient failures
    recovery_s: float  # breaker open -> wait this long, then send one probe row
    systemic_budget_s: float  # not recovered within this since the breaker opened -> failed_systemic, exit 3
    max_throttles_per_row: int = 100  # a row throttled more often than this fails (kind transient)
    default_throttle_s: float = 5.0  # run-wide pause after a 429/423 without Retry-After

    @property
    def timeout(self) -> tuple[float, float, float]:
        return (self.connect_timeout_s, self.read_timeout_s, self.call_timeout_s)

    def help_lines(self) -> str:
        """Its lines in ``ledger work --help``."""
        return (
            f"  {self.name:<8} {self.description}\n"
            f"           {self.attempts} tries/row within {self.row_budget_s:g}s, backoff "
            f"{self.backoff_base_s:g}-{self.backoff_max_s:g}s, timeouts "
            f"{self.connect_timeout_s:g}/{self.read_timeout_s:g}/{self.call_timeout_s:g}s,\n"
            f"           breaker {self.breaker_ratio:.0%} of >={self.breaker_min_volume} failures in "
            f"{self.breaker_window_s:g}s, probe after {self.recovery_s:g}s, gives up after {self.systemic_budget_s:g}s"
        )


PROFILES: dict[str, RetryProfile] = {
    p.name: p
    for p in (
        RetryProfile(
            name="default",
            description="production runs",
            attempts=8,
            row_budget_s=180,
            backoff_base_s=0.5,
            backoff_max_s=30,
            connect_timeout_s=5,
            read_timeout_s=30,
            call_timeout_s=60,
            breaker_window_s=60,
            breaker_min_volume=10,
            breaker_ratio=0.5,
            breaker_consecutive=10,
            recovery_s=15,
            systemic_budget_s=300,
        ),
        RetryProfile(
            name="patient",
            description="long Webex incidents, unstable links (night runs)",
            attempts=12,
            row_budget_s=900,
            backoff_base_s=2,
            backoff_max_s=120,
            connect_timeout_s=10,
            read_timeout_s=60,
            call_timeout_s=120,
            breaker_window_s=120,
            breaker_min_volume=20,
            breaker_ratio=0.6,
            breaker_consecutive=20,
            recovery_s=60,
            systemic_budget_s=1800,
            max_throttles_per_row=500,
        ),
        RetryProfile(
            name="fast",
            description="rehearsals against the sandbox, quick checks: gives up on an outage quickly",
            attempts=8,
            row_budget_s=30,
            backoff_base_s=0.1,
            backoff_max_s=2,
            connect_timeout_s=2,
            read_timeout_s=3,
            call_timeout_s=6,
            breaker_window_s=20,
            breaker_min_volume=8,
            breaker_ratio=0.6,
            breaker_consecutive=8,
            recovery_s=2,
            systemic_budget_s=12,
            default_throttle_s=2.0,
        ),
    )
}


def get_profile(name: str) -> RetryProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ConfigError(f"unknown retry profile {name!r}; choose one of {', '.join(PROFILES)}") from None


def profiles_help() -> str:
    """The profiles as ``ledger work --help`` shows them (``\\b``: click keeps the lines as they are)."""
    lines = "\n".join(p.help_lines() for p in PROFILES.values())
    return f"\b\nRetry profiles (--retry-profile):\n{lines}"
