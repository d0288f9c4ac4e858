"""Fault configuration, its string grammar and the seeded per-server fault decisions."""

from __future__ import annotations

import collections
import dataclasses
import fnmatch
import math
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import ROW_ERROR


@dataclass
class FaultConfig:
    """What to inject. Every field defaults to "off"; probabilities are per request (0..1)."""

    p429: float = 0.0
    p423: float = 0.0
    p500: float = 0.0
    p502: float = 0.0
    p503: float = 0.0
    phang: float = 0.0
    preset: float = 0.0
    plost: float = 0.0  # the request IS processed (writes committed), then the connection is reset
    retry_after: int = 1  # seconds sent with 429/423 (integer, as the SDK needs)
    hang_seconds: float = 120.0
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    outage: bool = False  # live toggle: every request answers 503
    outage_start: float | None = None  # seconds after server start
    outage_end: float | None = None
    rate_limit_per_s: float | None = None
    rate_limit_per_min: float | None = None
    row_errors: set[str] = field(default_factory=set)
    row_error_code: int = ROW_ERROR
    # entities (emails / ids / workspace names) whose forwarding PUT answers 400 + errorCode 4003
    # "...UserCallForwardingBusy..." (the fallback path of the v21 scripts)
    forwarding_busy: set[str] = field(default_factory=set)
    # emails whose People create with callingData=true creates the person but answers 400 (seen on Webex)
    created_400: set[str] = field(default_factory=set)
    # entities (workspace/person names, emails, ids), optionally "KEY:feature" (callForwarding or
    # outgoingPermission), whose feature GET answers 400 + errorCode 4003: the token may not read it (v21 §3.19)
    read_denied: set[str] = field(default_factory=set)
    # "[METHOD:]GLOB" rules (see :func:`check_forbidden_rule`): matching requests answer 403, the token lacks a scope
    forbidden: set[str] = field(default_factory=set)
    # "email" or "email:LICENCE" (a SKU such as BCSTD, or a licence id): licences Webex leaves out when they are
    # assigned to that user — PATCH /licenses/users answers 206 Partial Content without them, POST /people
    # answers 200 without them (webex-admin.json PATCH /licenses/users: "compare the returned licenses")
    licenses_partial: set[str] = field(default_factory=set)

    # ----------------------------------------------------------------- grammar
    _PROB_KEYS = {"429": "p429", "423": "p423", "500": "p500", "502": "p502", "503": "p503",
                  "hang": "phang", "reset": "preset", "lost": "plost"}
    # "a|b|c" keys: the field they add to
    _LIST_KEYS = {"row_error": "row_errors", "row_errors": "row_errors", "fwd_busy": "forwarding_busy",
                  "forwarding_busy": "forwarding_busy", "read_denied": "read_denied", "deny_read": "read_denied",
                  "forbidden": "forbidden", "forbid": "forbidden", "created_400": "created_400",
                  "create400": "created_400", "lic_partial": "licenses_partial",
                  "licenses_partial": "licenses_partial"}
    _SET_FIELDS = frozenset(_LIST_KEYS.values())

    @classmethod
    def parse(cls, spec: str | None) -> "FaultConfig":
        """Parse ``"429=0.1,503=0.05,hang=0.02,reset=0.02,retry_after=1,outage=10-50,rate=5/s,
        row_error=a@x.com|b@x.com,forbidden=WRITE:*"``. Raises ValueError naming the bad token."""
        cfg = cls()
        if not spec or not spec.strip():
            return cfg
        for raw in spec.split(","):
            token = raw.strip()
            if not token:
                continue
            if "=" not in token:
                if token == "outage":
                    cfg.outage = True
                    continue
                raise ValueError(f"bad fault token {token!r}: expected key=value")
            k, v = (x.strip() for x in token.split("=", 1))
            try:
                cfg._set(k.lower(), v)
            except ValueError as e:
                raise ValueError(f"bad fault token {token!r}: {e}") from None
        cfg.validate()
        return cfg

    def _set(self, k: str, v: str) -> None:
        """Apply one ``key=value`` token (``k`` lower case); ValueError says what is wrong with it."""
        if k in self._PROB_KEYS:
            p = float(v)
            if not 0.0 <= p <= 1.0:
                raise ValueError("probability out of [0, 1]")
            setattr(self, self._PROB_KEYS[k], p)
        elif k in self._LIST_KEYS:
            name = self._LIST_KEYS[k]
            getattr(self, name).update(_list_items(name, v))
        elif k in ("retry_after", "retry-after"):
            self.retry_after = int(v)
            if self.retry_after < 0:
                raise ValueError("negative")
        elif k in ("hang_s", "hang_seconds"):
            self.hang_seconds = float(v)
        elif k in ("latency", "latency_ms"):
            self._set_latency(v)
        elif k in ("jitter", "latency_jitter_ms"):
            self.latency_jitter_ms = float(v)
        elif k == "outage":
            self._set_outage(v)
        elif k == "rate":
            self._set_rate(v)
        elif k in ("row_error_code",):
            self.row_error_code = int(v)
        else:
            raise ValueError("unknown key")

    def _set_latency(self, v: str) -> None:
        """``MS`` or ``MS~JITTER`` (also ``MS+-JITTER``)."""
        if "~" in v or "+-" in v:
            a, b = v.replace("+-", "~").split("~", 1)
            self.latency_ms, self.latency_jitter_ms = float(a or 0), float(b)
        else:
            self.latency_ms = float(v)

    def _set_outage(self, v: str) -> None:
        """``on``/``off`` (the live toggle) or ``START-END`` seconds after the server starts."""
        if v.lower() in ("on", "true", "1"):
            self.outage = True
        elif v.lower() in ("off", "false", "0"):
            self.outage = False
        else:
            a, b = v.split("-", 1)
            self.outage_start, self.outage_end = float(a), float(b)
            if self.outage_end < self.outage_start:
                raise ValueError("end before start")

    def _set_rate(self, v: str) -> None:
        """``N``, ``N/s`` or ``N/min``: requests accepted per window before 429."""
        n, _, unit = v.partition("/")
        unit = (unit or "s").lower()
        if unit in ("s", "sec", "second"):
            self.rate_limit_per_s = float(n)
        elif unit in ("m", "min", "minute"):
            self.rate_limit_per_min = float(n)
        else:
            raise ValueError("unit must be /s or /min")
        if float(n) <= 0:
            raise ValueError("rate must be > 0")

    def validate(self) -> None:
        total = sum(getattr(self, name) for name in self._PROB_KEYS.values())
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault probabilities add up to {total:.3f} > 1")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FaultConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        bad = set(d) - names
        if bad:
            raise ValueError(f"unknown fault fields: {sorted(bad)}")
        d = dict(d)
        for k in cls._SET_FIELDS:
            if k in d:
                d[k] = set(d[k] or ())
        d["forbidden"] = {check_forbidden_rule(r) for r in d.get("forbidden", ())}
        cfg = cls(**d)
        cfg.validate()
        return cfg

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in self._SET_FIELDS:
            d[k] = sorted(getattr(self, k))
        return d


# --------------------------------------------------------------------------- 403: missing scope / role
FORBIDDEN_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "WRITE", "ANY", "*"}
# what Webex answers (message and errors[0].description) when the token lacks a scope or the admin a role
FORBIDDEN_MESSAGE = ("The server understood the request, but refused to fulfill it because the access token is "
                     "missing required scopes or the user is missing required roles or licenses.")
FORBIDDEN_CODE = 403000  # a sandbox stand-in errorCode


def check_forbidden_rule(rule: str) -> str:
    """``[METHOD:]GLOB`` (METHOD: GET/POST/PUT/PATCH/DELETE, WRITE = any but GET, ANY/* = all; GLOB an
    fnmatch pattern on the path without ``/v1/``, e.g. ``people*``, ``telephony/config/*``, ``*``).
    Returns the rule stripped; raises ValueError when the method is unknown or the glob empty."""
    rule = rule.strip()
    method, glob = _split_rule(rule)
    if method not in FORBIDDEN_METHODS or not glob:
        raise ValueError(f"forbidden rule {rule!r}: expected [GET|POST|PUT|PATCH|DELETE|WRITE|ANY:]GLOB")
    return rule


def _list_items(field_name: str, value: str) -> set[str]:
    """The items of an ``a|b|c`` value for ``field_name``: forbidden rules checked, created_400 emails in
    lower case, the others stripped; empty items dropped."""
    items = [x for x in value.split("|") if x.strip()]
    if field_name == "forbidden":
        return {check_forbidden_rule(x) for x in items}
    if field_name == "created_400":
        return {x.strip().lower() for x in items}
    return {x.strip() for x in items}


def licence_dropped(cfg: FaultConfig, email: str, license_id: str, sku: str) -> bool:
    """Whether ``cfg.licenses_partial`` leaves this licence out when it is assigned to ``email``."""
    for item in cfg.licenses_partial:
        who, _, lic = item.partition(":")
        if who.strip().lower() != (email or "").strip().lower():
            continue
        lic = lic.strip()
        if not lic or lic.upper() == sku.upper() or lic.rstrip("=") == license_id.rstrip("="):
            return True
    return False


def _split_rule(rule: str) -> tuple[str, str]:
    method, sep, glob = rule.partition(":")
    return (method.strip().upper(), glob.strip()) if sep else ("ANY", rule.strip())


def forbidden_hit(cfg: FaultConfig, method: str, path: str) -> str | None:
    """The first ``cfg.forbidden`` rule (sorted, so deterministic) matching this request, else None."""
    if not cfg.forbidden:
        return None
    rel = path[len("/v1/"):] if path.startswith("/v1/") else path.lstrip("/")
    method = method.upper()
    for rule in sorted(cfg.forbidden):
        want, glob = _split_rule(rule)
        if want == "WRITE" and method in ("GET", "HEAD", "OPTIONS"):
            continue
        if want not in ("ANY", "*", "WRITE") and want != method:
            continue
        if fnmatch.fnmatchcase(rel, glob.lstrip("/")) or fnmatch.fnmatchcase(path, glob):
            return rule
    return None


@dataclass
class Decision:
    fault: str | None = None  # "429", "423", "500", "502", "503", "hang", "reset", "outage", "rate_limit"
    status: int | None = None
    retry_after: float | None = None
    latency_s: float = 0.0


class FaultEngine:
    """Seeded decisions: one random draw per faultable request, so a fixed seed and a fixed request
    sequence give the same faults."""

    def __init__(self, seed: int | None = None):
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self._accepted: collections.deque[float] = collections.deque()

    def decide(self, cfg: FaultConfig) -> Decision:
        with self.lock:
            now = time.monotonic()
            d = Decision()
            # one draw for the fault, one for the jitter (always drawn -> stable sequences)
            u = self.rng.random()
            j = self.rng.random()
            d.latency_s = max(0.0, (cfg.latency_ms + cfg.latency_jitter_ms * j) / 1000.0)
            elapsed = now - self.started
            if cfg.outage or (cfg.outage_start is not None and cfg.outage_end is not None
                              and cfg.outage_start <= elapsed < cfg.outage_end):
                d.fault, d.status = "outage", 503
                if cfg.outage_end is not None and not cfg.outage:
                    d.retry_after = max(1, math.ceil(cfg.outage_end - elapsed))
                return d
            ra = self._rate_limit(cfg, now)
            if ra is not None:
                d.fault, d.status, d.retry_after = "rate_limit", 429, ra
                return d
            acc = 0.0
            for name, attr in cfg._PROB_KEYS.items():  # "429" ... "503" answer that status; the rest none
                p, status = getattr(cfg, attr), (int(name) if name.isdigit() else None)
                acc += p
                if p and u < acc:
                    d.fault, d.status = name, status
                    if status in (429, 423):
                        d.retry_after = int(cfg.retry_after)
                    break
            return d

    def _rate_limit(self, cfg: FaultConfig, now: float) -> int | None:
        limits = []
        if cfg.rate_limit_per_s:
            limits.append((1.0, cfg.rate_limit_per_s))
        if cfg.rate_limit_per_min:
            limits.append((60.0, cfg.rate_limit_per_min))
        if not limits:
            return None
        horizon = max(w for w, _ in limits)
        while self._accepted and self._accepted[0] <= now - horizon:
            self._accepted.popleft()
        wait = 0.0
        for window, n in limits:
            inside = [t for t in self._accepted if t > now - window]
            if len(inside) >= n:
                # the slot frees up when the oldest request that keeps us at the limit leaves the window
                oldest = inside[len(inside) - int(n)] if n >= 1 else inside[0]
                wait = max(wait, oldest + window - now)
        if wait > 0:
            return max(1, math.ceil(wait))
        self._accepted.append(now)
        return None
