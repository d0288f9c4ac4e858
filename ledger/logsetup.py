"""structlog configuration, called once by the CLI group (:func:`configure_logging`).

- Console (stderr): readable ``ConsoleRenderer`` on a TTY, JSON lines otherwise; warnings and
  errors only, so command output stays clean.
- File: every event from INFO up as JSON lines in ``<db>.log`` next to the ledger (``ledger.log``
  for ``ledger.db``), created 0600, opened on the first event.
- A redaction processor removes the access token anywhere in the event (``WEBEX_ACCESS_TOKEN``'s
  value, ``Bearer …``, any ``Authorization``/token-like key), including rendered tracebacks.
  Tracebacks are plain text: never ``dict_tracebacks`` with locals.

:func:`redact` is public: use it on any text that might carry the token before it is stored.
"""

from __future__ import annotations

import datetime
import functools
import json
import logging
import os
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import IO, Any

import structlog

REDACTED = "[REDACTED]"
TOKEN_ENV = "WEBEX_ACCESS_TOKEN"
SECRET_KEYS = re.compile(r"(?i)^(authorization|proxy-authorization|.*token.*|.*secret.*|password|cookie)$")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s,;\"'\\]+")  # stops at quotes/backslashes (JSON text)
_TOKEN_PARAM = re.compile(r"(?i)\b(access_token|token)=([^&\s\"'\\]+)")
_SECRET_KEYS_ALLOWED = frozenset({"tracking_id", "token_env"})


def redact(text: str) -> str:
    """``text`` with the access token, ``Bearer xxx`` and ``access_token=xxx`` masked."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if len(token) >= 8 and token in text:
        text = text.replace(token, REDACTED)
    low = text.lower()  # the patterns need these words: most texts (ids, statuses) skip both regexes
    if "bearer" in low:
        text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    if "token=" in low:
        text = _TOKEN_PARAM.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
    return text


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: REDACTED if _secret_key(k) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    if isinstance(value, tuple):  # also NamedTuples: rendered as plain sequences
        return tuple(_scrub(v) for v in value)
    if isinstance(value, BaseException):
        return redact(repr(value))
    return value


def _secret_key(key: object) -> bool:
    return isinstance(key, str) and _secret_name(key)


@functools.lru_cache(maxsize=1024)
def _secret_name(key: str) -> bool:
    """Whether a key names a secret (the same few event keys recur on every log line: cached)."""
    return key not in _SECRET_KEYS_ALLOWED and bool(SECRET_KEYS.match(key))


def redact_processor(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: :func:`redact` every string, mask secret-named keys, at any depth."""
    for key in list(event_dict):
        event_dict[key] = REDACTED if _secret_key(key) else _scrub(event_dict[key])
    return event_dict


class _FileTee:
    """Writes each event (INFO and up) as a JSON line to the ledger's log file, then passes it on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh: IO[str] | None = None

    def _open(self) -> IO[str]:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            self._fh = os.fdopen(fd, "a", encoding="utf-8", buffering=1)
        return self._fh

    def __call__(self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        try:
            line = json.dumps(dict(event_dict), default=str, ensure_ascii=False)
            self._open().write(redact(line) + "\n")  # objects rendered by str() are checked too
        except OSError:
            pass  # a log file we cannot write must not stop the migration; stderr still gets errors
        return event_dict

    def write_lines(self, text: str) -> None:
        """Already-rendered JSON lines (``info_many``), redacted as a whole."""
        try:
            self._open().write(redact(text))
        except OSError:
            pass


def _console_filter(min_level: int) -> Any:
    def drop_below(_logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if logging.getLevelName(method.upper()) < min_level:
            raise structlog.DropEvent
        return event_dict

    return drop_below


class _CurrentStderr:
    """A file-like that writes to whatever ``sys.stderr`` is at write time (CliRunner swaps it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def _redacted(renderer: Any) -> Any:
    """The final renderer, with :func:`redact` applied to its output (objects rendered by repr)."""

    def render(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> str:
        return redact(renderer(logger, method, event_dict))

    return render


class _LibraryLogs(logging.Handler):
    """Standard-library logging of the libraries (wxc_sdk's ``auto enhancing Enum …`` warnings,
    urllib3's) goes to the ledger's log file as JSON lines, not to the operator's terminal."""

    def __init__(self, tee: _FileTee) -> None:
        super().__init__(level=logging.WARNING)
        self.tee = tee

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event: MutableMapping[str, Any] = {
                "event": record.getMessage(), "logger": record.name, "level": record.levelname.lower(),
            }
            self.tee(None, record.levelname.lower(), redact_processor(None, "", event))
        except Exception:  # noqa: BLE001 - logging must never raise into the caller
            self.handleError(record)


def _route_library_logs(path: Path) -> None:
    """Replace (idempotently) the root logger's handler: library warnings go to ``path``."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _LibraryLogs)]:
        root.removeHandler(handler)
    root.addHandler(_LibraryLogs(_FileTee(path)))


def log_path_for(db_path: Path) -> Path:
    """``ledger.db`` → ``ledger.log`` (same directory)."""
    return Path(db_path).with_suffix(".log")


#: what :func:`info_many` needs of the configuration :func:`configure_logging` made last
_FAST: dict[str, Any] = {}
_PLAIN = (str, int, float, bool, type(None))
_JSON = json.JSONEncoder(default=str, ensure_ascii=False)  # json.dumps(..., default=str, ensure_ascii=False)


def info_many(logger: Any, event: str, events: list[dict[str, Any]]) -> None:
    """INFO events of one kind, many at once (the worker's per-row line): in the log file, the same
    JSON lines as one ``logger.info(event, **fields)`` each (context variables, level, timestamp,
    redaction of every value and of the whole text), rendered and written in one go. When the console
    shows INFO, or structlog is configured otherwise (tests' ``capture_logs``), one call each."""
    if not events:
        return
    tee = _FAST.get("tee")
    if tee is None or tuple(structlog.get_config()["processors"]) != _FAST["processors"]:  # (edited in place too)
        for fields in events:
            logger.info(event, **fields)
        return
    # what every line adds after its fields, built as one logger.info would (event, context, level, time)
    tail: dict[str, Any] = {"event": event}
    for k, v in structlog.contextvars.get_contextvars().items():
        tail.setdefault(k, v)
    tail["level"] = "info"
    tail["timestamp"] = datetime.datetime.now(tz=datetime.timezone.utc).isoformat().replace("+00:00", "Z")
    tail_plain = all(isinstance(v, _PLAIN) for v in tail.values())
    fast_keys: dict[tuple[str, ...], bool] = {}  # a line's keys → no overlap with the tail, none secret
    lines = []
    for fields in events:
        keys = tuple(fields)
        fast = fast_keys.get(keys)
        if fast is None:
            fast = fast_keys[keys] = not (tail.keys() & fields.keys()) and not any(map(_secret_key, (*keys, *tail)))
        if fast and tail_plain and all(isinstance(v, _PLAIN) for v in fields.values()):
            lines.append(_JSON.encode({**fields, **tail}))
            continue
        d: dict[str, Any] = {**fields, "event": event}
        for k, v in tail.items():
            d.setdefault(k, v)
        d["level"], d["timestamp"] = tail["level"], tail["timestamp"]
        if not all(isinstance(v, _PLAIN) for v in d.values()) or any(_secret_key(k) for k in d):
            d = dict(redact_processor(None, "info", d))  # nested values or secret-named keys: the full scrub
        lines.append(_JSON.encode(d))
    lines.append("")
    tee.write_lines("\n".join(lines))  # redacts the whole text: every value's token/Bearer/token= masked


def configure_logging(db_path: Path, *, console_level: int = logging.WARNING, stream: IO[str] | None = None) -> None:
    """Configure structlog for this process (idempotent; the last call wins)."""
    out: IO[str] | _CurrentStderr = stream or _CurrentStderr()
    tty = out.isatty()
    renderer: Any = structlog.dev.ConsoleRenderer(colors=False) if tty else structlog.processors.JSONRenderer()
    tee = _FileTee(log_path_for(db_path))
    processors = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_processor,
        tee,
        _console_filter(console_level),
        _redacted(renderer),
    ]
    _FAST.clear()
    if console_level > logging.INFO:  # INFO lines go to the file only: info_many may render them itself
        _FAST.update(tee=tee, processors=tuple(processors))
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.PrintLoggerFactory(file=out),  # type: ignore[arg-type]
        cache_logger_on_first_use=False,
    )
    _route_library_logs(log_path_for(db_path))
