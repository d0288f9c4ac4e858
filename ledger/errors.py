"""One exception hierarchy for the whole tool, and the process exit codes.

Library code raises these; only ``ledger.cli`` turns them into messages and exit codes.
Every class's docstring is its default message, written to tell the operator what to do.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (documented in ``ledger --help`` and the README)."""

    OK = 0  # every claimable row reached a final state (partial success included)
    FATAL = 1  # any other fatal error
    USAGE = 2  # bad command line (click's own code)
    FAILED_SYSTEMIC = 3  # the breaker opened and did not recover / token rejected
    INTERRUPTED = 4  # stopped by a signal; run `ledger work` again to resume


class LedgerError(Exception):
    """ledger failed."""

    exit_code: ExitCode = ExitCode.FATAL
    immediate = False  # the CLI exits at once, without waiting for other threads (requests in flight)

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or "").strip()
        super().__init__(self.message)


class Interrupted(LedgerError):
    """second interrupt: exiting now; run `ledger work` again to resume (the next run reclaims the rows)"""

    exit_code = ExitCode.INTERRUPTED
    immediate = True


class InputError(LedgerError):
    """The input file cannot be imported; fix it and import again (nothing was written)."""


class ActionNotFound(LedgerError):
    """Unknown action; run `ledger actions` to list them."""

    exit_code = ExitCode.USAGE


class SchemaError(LedgerError):
    """The ledger database is not usable (wrong file, or written by a newer ledger)."""


class WebexUnreachable(LedgerError):
    """ledger work checked Webex before claiming any row and could not use it; the ledger is unchanged."""

    exit_code = ExitCode.FAILED_SYSTEMIC


class ConfigError(LedgerError):
    """Configuration is incomplete (see `ledger work --help`)."""


# --- outcomes of executing one row (raised by actions, handled by the worker) -------------------


class ActionError(LedgerError):
    """The Webex operation failed.

    ``kind`` is one of ``row``, ``transient``, ``systemic`` (the ``error_kind`` column).
    Messages must never contain secrets; actions build them from Webex error descriptions.
    """

    kind = "row"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | int | None = None,
        http_status: int | None = None,
        tracking_id: str | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
        detail: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = None if code is None else str(code)
        self.http_status = http_status
        self.tracking_id = tracking_id
        self.retry_after = retry_after
        self.ambiguous = ambiguous  # the write may have reached Webex: re-check before retrying
        self.detail = detail or {}


class RowFailure(ActionError):
    """Webex rejected this row (bad data or a functional conflict); the run goes on."""

    kind = "row"


class TransientFailure(ActionError):
    """A temporary failure (5xx, timeout, connection error); the row is retried."""

    kind = "transient"


class Throttled(TransientFailure):
    """Webex asked us to slow down (429/423); the whole run pauses for Retry-After."""


class SystemicFailure(ActionError):
    """A failure that affects every row (token, scope, outage); the breaker decides."""

    kind = "systemic"


class AuthFailure(SystemicFailure):
    """Webex rejected the access token (401): set a valid WEBEX_ACCESS_TOKEN and run `ledger work` again."""


class RunStopped(ActionError):
    """The run stopped sending requests (signal, breaker open or token rejected); the row goes back to pending.

    Not a TransientFailure: it is never retried nor fed to the breaker (``ledger.work.ladder``); its
    ``kind`` is what the attempt row records.
    """

    kind = "transient"
