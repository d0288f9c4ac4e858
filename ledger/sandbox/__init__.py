"""`ledger sandbox`: a local, stateful, fault-injecting fake of the Webex APIs that ``ledger`` uses (also the demo's and the tests').

Standalone on purpose: it imports neither wxc_sdk nor other ``ledger`` modules.
"""

from __future__ import annotations

from .app import RequestRecord
from .faults import FaultConfig
from .server import Sandbox, serve
from .state import SandboxState

__all__ = ["Sandbox", "FaultConfig", "SandboxState", "RequestRecord", "serve"]
