"""The action registry: every operation `ledger` can apply, with its declared columns.

Importing this package is cheap (no wxc_sdk): ``ledger import`` and ``ledger actions`` use the
specs only. The executors (``spec.executor``) are imported by ``ledger work`` alone.
"""

from __future__ import annotations

from ledger.actions.catalog import SPECS
from ledger.errors import ActionNotFound
from ledger.spec import ActionSpec, Registry

REGISTRY = Registry(SPECS)


def get_spec(name: str) -> ActionSpec:
    spec = REGISTRY.get(name)
    if spec is None:
        close = REGISTRY.suggest(name)
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        raise ActionNotFound(f"unknown action {name!r}; {hint}run `ledger actions` to list them")
    return spec


__all__ = ["REGISTRY", "get_spec"]
