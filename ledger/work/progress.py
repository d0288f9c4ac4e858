"""Operator feedback while `ledger work` runs: a live line with rate and ETA on a TTY, one line per batch otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _fmt_s(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:d}:{s:02d}"


class Progress:
    """Counts rows reaching a final state against the claimable rows at the start of the run
    (``total``: set by the worker once dead runs' rows are back to pending)."""

    def __init__(self, total: int, *, stream: TextIO | None = None, live: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.total = max(total, 0)
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self._last_draw = 0.0
        self.note = ""
        self.complete = False  # set by close(complete=True): every claimable row is final

    def add(self, done: int, failed: int = 0) -> None:
        self.done += done
        self.failed += failed
        if self.live and time.monotonic() - self._last_draw >= 0.2:
            self._draw()

    def _line(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = max(self.total - self.done, 0)
        eta = _fmt_s(left / rate) if rate > 0 and left else "--:--"
        pct = f"{100 * self.done / self.total:5.1f}%" if self.total else ("100.0%" if self.complete else "  ---")
        note = f"  {self.note}" if self.note else ""
        return (
            f"{pct} {self.done}/{self.total} rows  {self.failed} failed  {rate * 60:.0f} rows/min  "
            f"elapsed {_fmt_s(elapsed)}  ETA {eta}{note}"
        )

    def _draw(self) -> None:
        self._last_draw = time.monotonic()
        self.stream.write("\r\x1b[2K" + self._line())
        self.stream.flush()

    def batch_claimed(self) -> None:
        """A batch was just claimed (its rows are about to run): the non-TTY log line."""
        if not self.live:
            self.stream.write(self._line() + "\n")
            self.stream.flush()
        else:
            self._draw()

    def set_note(self, note: str) -> None:
        if note == self.note:
            return
        self.note = note
        if self.live:
            self._draw()
        elif note:
            self.stream.write(note + "\n")
            self.stream.flush()

    def close(self, *, complete: bool = False) -> None:
        """The final line, on a TTY and off it. ``complete``: the run ended with nothing claimable
        left, so the line says 100 % (rows counted at the start may since have been taken by another
        worker or become blocked; rows made claimable during the run count too)."""
        if complete:
            self.complete = True
            self.total = self.done
        self.note = ""
        if self.live:
            self._draw()
            self.stream.write("\n")
        else:
            self.stream.write(self._line() + "\n")
        self.stream.flush()
