"""The sandbox's HTTP routes, one module per Webex API area (people, SCIM, locations, telephony,
workspaces) plus the unauthenticated admin endpoints; each validates like Webex and writes through
``ledger.sandbox.state``."""
from __future__ import annotations
