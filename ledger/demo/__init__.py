"""`ledger demo`: generate a sample CSV (``samplegen``), start the built-in sandbox, then import, work and
report against it (``run``), and check on the "server" that nothing was created twice."""
from __future__ import annotations
