"""Helpers for the location/workspace action tests: build a real executor against a sandbox.

Rows are normalised with the same per-column normalisers the importer uses (``ledger.normalize``),
with column defaults applied and global.csv values merged under the row, so the executors see the
payload shapes they see in production.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from ledger.actions import get_spec
from ledger.actions.client import make_api
from ledger.normalize import normalizer_for
from ledger.ports import ActionResult, ResolveCache, RowInput
from ledger.sandbox import Sandbox

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def payload(action: str, raw: Mapping[str, Any], global_row: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Normalise ``raw`` cells (strings) for ``action``'s columns; non-string values pass unchanged."""
    spec = get_spec(action)
    out: dict[str, Any] = {}
    merged = {**(global_row or {}), **raw}
    for key, value in merged.items():
        try:
            col = spec.column(key)
        except KeyError:
            out[key] = value
            continue
        if isinstance(value, str):
            value = value.strip() or col.default
            if value is None:
                continue
            value = normalizer_for(col)(value)
        out[key] = value
    for col in spec.columns:
        if col.name not in out and col.default is not None:
            out[col.name] = normalizer_for(col)(col.default)
    return out


class Runner:
    """One executor of ``action`` on the sandbox, with a per-run cache (a new Runner = a new run)."""

    def __init__(self, sb: Sandbox, action: str, *, dry_run: bool = False, cache: ResolveCache | None = None):
        self.spec = get_spec(action)
        module, cls = self.spec.executor.split(":")
        executor_cls = getattr(importlib.import_module(module), cls)
        self.cache = cache or ResolveCache()
        self.api = make_api(sb.token, sb.base_url)
        self.executor = executor_cls(self.spec, self.api, cache=self.cache, dry_run=dry_run)
        self._next = 0

    def run(self, raw: Mapping[str, Any], global_row: Mapping[str, Any] | None = None, line_no: int = 2) -> ActionResult:
        self._next += 1
        row = RowInput(
            row_id=self._next,
            line_no=line_no,
            action=self.spec.name,
            payload=payload(self.spec.name, raw, global_row),
        )
        return self.executor.execute(row)


def writes(sb: Sandbox) -> list[tuple[str, str, Any]]:
    """(method, path, body) of every write request the sandbox received, in order."""
    return [(r.method, r.path, r.body) for r in sb.requests() if r.method in WRITE_METHODS]


def requests_to(sb: Sandbox, method: str, suffix: str) -> list[Any]:
    return [r for r in sb.requests() if r.method == method and r.path.rstrip("/").endswith(suffix)]
