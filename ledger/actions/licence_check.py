"""Did Webex apply the licences a row asked for? (user.licenses, user.create)

``PATCH /licenses/users`` may answer **206 Partial Content** with only some of the requested
licences applied: "Compare the returned licenses with the requested licenses to determine which
ones failed" (webex-admin.json, PATCH /licenses/users). ``POST /people`` may likewise answer with
fewer licences than it was given. The answer's ``licenses`` list is compared with the request: a
licence asked for and not held (or asked to be removed and still held) fails the row, naming it —
never ``succeeded``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ledger.actions.webex_ids import same_id
from ledger.errors import RowFailure


def shortfall(adds: Sequence[str], removes: Sequence[str], held: Iterable[str] | None) -> tuple[list[str], list[str]]:
    """(licences added but not held, licences removed but still held) after Webex's answer."""
    after = list(held or [])
    missing = [a for a in adds if not any(same_id(a, h) for h in after)]
    kept = [r for r in removes if any(same_id(r, h) for h in after)]
    return missing, kept


def label(license_id: str, known: Iterable[Any]) -> str:
    """``Name (id)`` when the org's licence list knows the id, else the id."""
    name = next((lic.name for lic in known if same_id(getattr(lic, "license_id", None), license_id)), None)
    return f"{name} ({license_id})" if name else license_id


def not_applied(who: str, missing: Sequence[str], kept: Sequence[str], known: Iterable[Any], *, after: str) -> RowFailure:
    """The row failure for licences Webex did not apply (``after``: what was done, for the message)."""
    known = list(known)
    parts = []
    if missing:
        parts.append("not assigned: " + ", ".join(label(x, known) for x in missing))
    if kept:
        parts.append("not removed: " + ", ".join(label(x, known) for x in kept))
    return RowFailure(
        f"{after}, but Webex did not apply every licence for {who} (its answer, e.g. 206 Partial Content, "
        f"lacks them): {'; '.join(parts)}. Check free units and licence conflicts in Control Hub, then "
        "`ledger retry` the row",
        code="license_not_applied",
        detail={"not_assigned": list(missing), "not_removed": list(kept)},
    )
