"""Which person, workspace or site a row acts on: the normalised keys of ``ledger.entity_key`` and
``ledger.site_key`` (pure functions; the importer calls them for every row, valid or not).

Keys (documented in the README, "Chains per entity"):

- a person: ``person:<email>`` (lower-cased), or ``person:id:<uuid>`` when the row names the person
  by ``person_id`` only and no row of the ledger gives both that id and an email (``resolve``);
- a site: ``site:<name>`` (the location name / site code, case-folded, spaces collapsed), or
  ``site:id:<uuid>`` when the row names it by ``location_id`` only and no row gives both that id and a
  name. A location id is compared by the UUID it decodes to, so padded, unpadded and raw-UUID forms
  are one site;
- a workspace: ``workspace:<site>/<name>`` (the site part as above without ``site:``, empty when the
  row names no location), or ``workspace:id:<uuid>``.

``site_key`` is the site a row concerns: a location row's own key; for a user or workspace row the
site of its ``location_id``/``location_name`` (NULL when the row names none).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

PERSON, SITE, WORKSPACE = "person", "site", "workspace"
_FAMILY = {"user": PERSON, "location": SITE, "workspace": WORKSPACE}
#: actions whose rows create the person: a user's other steps never run before that row is final
CREATE_PERSON_ACTIONS = ("user.create", "user.scim_create")


def entity_kind(action: str) -> str | None:
    """``person``, ``site`` or ``workspace`` for an action name (``user.licenses`` → ``person``)."""
    return _FAMILY.get(action.split(".", 1)[0])


def webex_uuid(value: Any) -> str | None:
    """The UUID a Webex id names (``ciscospark://us/PEOPLE/<uuid>`` → ``<uuid>``), lower-cased; a raw
    UUID as it is; None when empty."""
    text = str(value or "").strip()
    if not text:
        return None
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=False).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if decoded.startswith("ciscospark://"):
        text = decoded.rsplit("/", 1)[-1]
    return text.lower()


def norm_name(value: Any) -> str | None:
    text = " ".join(str(value or "").split()).casefold()
    return text or None


@dataclass
class Resolver:
    """Ids the ledger already ties to an email or a site name (rows giving both), so a row naming
    a person or site by id gets the same key as rows naming it by email or name."""

    person_email: dict[str, str] = field(default_factory=dict)  # uuid → email
    site_name: dict[str, str] = field(default_factory=dict)  # uuid → normalised name
    # (action, payload) pairs of the ledger's rows giving both, read at the first id to resolve
    loader: Callable[[], Iterable[tuple[str, Mapping[str, Any]]]] | None = None

    def _load(self) -> None:
        loader, self.loader = self.loader, None
        for action, payload in loader() if loader else ():
            self.learn(payload, action)

    def email_of(self, person_uuid: str) -> str | None:
        if person_uuid not in self.person_email:
            self._load()
        return self.person_email.get(person_uuid)

    def site_of(self, location_uuid: str) -> str | None:
        if location_uuid not in self.site_name:
            self._load()
        return self.site_name.get(location_uuid)

    def learn(self, payload: Mapping[str, Any], action: str) -> None:
        if "location_id" not in payload and "person_id" not in payload:
            return  # the common case: nothing to tie (checked first: ``ledger import`` calls this per row)
        kind = entity_kind(action)
        email, pid = payload.get("email"), webex_uuid(payload.get("person_id"))
        if kind == PERSON and email and pid:
            self.person_email.setdefault(pid, str(email).strip().lower())
        loc = webex_uuid(payload.get("location_id"))
        name = norm_name(payload.get("name") if kind == SITE else payload.get("location_name"))
        if loc and name:
            self.site_name.setdefault(loc, name)


def _site(payload: Mapping[str, Any], name_column: str, resolver: Resolver | None) -> str | None:
    """The site part of a key: the normalised name, else ``id:<uuid>`` (resolved to a name if known)."""
    raw = payload.get(name_column)
    if raw:
        name = norm_name(raw)
        if name:
            return name
    if "location_id" not in payload:
        return None
    loc = webex_uuid(payload.get("location_id"))
    if loc is None:
        return None
    known = resolver.site_of(loc) if resolver else None
    return known or f"id:{loc}"


def row_keys(action: str, payload: Mapping[str, Any], resolver: Resolver | None = None) -> tuple[str | None, str | None]:
    """``(entity_key, site_key)`` of a row of ``action`` with this (normalised or partial) payload."""
    kind = entity_kind(action)
    if kind == SITE:
        site = _site(payload, "name", resolver)
        key = None if site is None else f"site:{site}"
        return key, key
    site = _site(payload, "location_name", resolver)
    site_key = None if site is None else f"site:{site}"
    if kind == PERSON:
        email = payload.get("email")
        if email:  # already lower-cased and trimmed by the email normaliser (a partial payload too)
            return f"person:{str(email).strip().lower()}", site_key
        pid = webex_uuid(payload.get("person_id"))
        if pid is None:
            return None, site_key
        known = resolver.email_of(pid) if resolver else None
        return (f"person:{known}" if known else f"person:id:{pid}"), site_key
    if kind == WORKSPACE:
        name = norm_name(payload.get("workspace_name") or payload.get("display_name"))
        if name:
            return f"workspace:{site or ''}/{name}", site_key
        wid = webex_uuid(payload.get("workspace_id"))
        return (None if wid is None else f"workspace:id:{wid}"), site_key
    return None, site_key


def key_form(key: str | None) -> str | None:
    """How a key names its entity: ``id`` (by Webex id) or ``name`` (email, name); None for no key."""
    if key is None:
        return None
    kind, _, rest = key.partition(":")
    return "id" if rest.startswith("id:") else "name"


__all__ = [
    "CREATE_PERSON_ACTIONS",
    "PERSON",
    "SITE",
    "WORKSPACE",
    "Resolver",
    "entity_kind",
    "key_form",
    "norm_name",
    "row_keys",
    "webex_uuid",
]
