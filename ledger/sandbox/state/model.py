"""Shared pieces of the sandbox state: constants, JSON helpers, default feature settings and
:class:`StateCore`, the data every ``state_*`` part of :class:`~ledger.sandbox.state.SandboxState` works on."""

from __future__ import annotations

import copy
import datetime as _dt
import random
import re
import threading
from collections import Counter

from .. import errors as E
from .. import ids
from .indexes import Indexes

CALLING_PERSON_SKUS = {"BCSTD", "BCBASIC", "BCPRO"}

DEFAULT_LICENSES = (
    ("Webex Calling - Professional", "BCSTD", 1000),
    ("Call on Webex (1:1 call, non-PSTN)", "FTC", 1000),
    ("Webex Calling - Workspaces", "BCCA", 200),
)

COUNTRY_PREFIX = {
    "ES": "+34", "US": "+1", "CA": "+1", "GB": "+44", "FR": "+33", "DE": "+49", "PT": "+351",
    "IT": "+39", "MX": "+52", "NL": "+31", "BE": "+32", "IE": "+353", "AU": "+61", "BR": "+55",
}

CALL_TYPES = (
    "INTERNAL_CALL", "TOLL_FREE", "INTERNATIONAL", "OPERATOR_ASSISTED", "CHARGEABLE_DIRECTORY_ASSISTED",
    "SPECIAL_SERVICES_I", "SPECIAL_SERVICES_II", "PREMIUM_SERVICES_I", "PREMIUM_SERVICES_II", "NATIONAL",
)
PERMISSION_ACTIONS = {"ALLOW", "BLOCK", "AUTH_CODE", "TRANSFER_NUMBER_1", "TRANSFER_NUMBER_2", "TRANSFER_NUMBER_3"}

E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
EXT_RE = re.compile(r"^\d{2,10}$")


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def license_sku(id_tail: str) -> str:
    """The SKU in the tail of a licence id, ``ORG_UUID:SKU_...`` (as ``PeopleMixin.add_license`` builds it)."""
    return id_tail.split(":", 1)[-1].split("_", 1)[0].upper()


def public(obj: dict | None) -> dict | None:
    """Copy of a stored object without the private ``_`` keys."""
    if obj is None:
        return None
    return {k: copy.deepcopy(v) for k, v in obj.items() if not k.startswith("_")}


def default_forwarding() -> dict:
    return {
        "callForwarding": {
            "always": {"enabled": False, "destination": "", "ringReminderEnabled": False,
                       "destinationVoicemailEnabled": False},
            "busy": {"enabled": False, "destination": "", "destinationVoicemailEnabled": False},
            "noAnswer": {"enabled": False, "destination": "", "destinationVoicemailEnabled": False,
                         "numberOfRings": 3, "systemMaxNumberOfRings": 20},
        },
        "businessContinuity": {"enabled": False, "destination": "", "destinationVoicemailEnabled": False},
    }


def default_permissions() -> dict:
    return {
        "useCustomEnabled": False,
        "useCustomPermissions": False,
        "callingPermissions": [
            {"callType": ct, "action": "ALLOW" if ct in ("INTERNAL_CALL", "TOLL_FREE", "NATIONAL") else "BLOCK",
             "transferEnabled": ct in ("INTERNAL_CALL", "TOLL_FREE", "NATIONAL"),
             "isCallTypeRestrictionEnabled": False}
            for ct in CALL_TYPES
        ],
    }



class StateCore:
    """The collections, the one lock and the id helpers that every part of the state shares.

    ``SandboxState.__init__`` creates the data; the ``state_*.py`` mixins hold none of their own and
    work on these attributes.  All mutations hold ``self.lock`` (an RLock: one operation may call another).
    """

    lock: threading.RLock
    ix: Indexes
    _rng: random.Random | None
    orgs: dict[str, dict]
    locations: dict[str, dict]
    people: dict[str, dict]
    licenses: dict[str, dict]
    route_groups: dict[str, dict]
    trunks: dict[str, dict]
    workspaces: dict[str, dict]
    numbers: dict[str, dict]  # keyed by E.164 number
    jobs: dict[str, dict]
    create_counts: Counter[str]
    workspace_create_counts: Counter[str]
    org_id: str
    me_id: str

    def found(self, table: dict[str, dict], record_id: str, what: str) -> dict:
        """The record of ``table`` with id ``record_id`` (padded or not); Webex's 404 naming ``what``."""
        record = table.get(ids.key(record_id))
        if record is None:
            raise E.not_found(what, record_id)
        return record

    # ------------------------------------------------------------------ indexes
    def reindex(self, ent: dict) -> None:
        """File a person or workspace changed in place (email, location, extension, name) anew."""
        if ids.key(ent["id"]) in self.people or ids.key(ent["id"]) in self.workspaces:
            self.ix.add_entity(ent)

    def reindex_number(self, rec: dict) -> None:
        """File a number whose owner or location changed anew."""
        if rec["phoneNumber"] in self.numbers:
            self.ix.add_number(rec)

    # ------------------------------------------------------------------ ids
    def _uuid(self) -> str:
        return ids.new_uuid(self._rng)

    def _new_id(self, kind: str) -> str:
        return ids.encode(kind, self._uuid())

    @property
    def org_uuid(self) -> str:
        return ids.key(self.org_id)

    @staticmethod
    def _new_features() -> dict:
        return {"callForwarding": default_forwarding(), "outgoingPermission": default_permissions(),
                "alternates": [], "distinctiveRingEnabled": False}
