"""Stage 2, `ledger work`: claim rows, execute them against Webex, record each outcome. Never imports wxc_sdk.

``run`` is the library call behind the CLI verb (signals, preflight, the end-of-run report);
``worker`` the loop (claim batches, dispatch to threads, one writer); ``rows`` runs one row or bulk
group with retries; ``bulks`` fills bulks with the rows that need a request, across claims, and runs them; ``lanes``
the pool threads; ``tries`` the ``attempts`` records; ``ladder`` decides what happens after a failed attempt (retry, fail the row,
suspect, release, stop the run); ``retry`` (tenacity), ``breaker`` (circuitbreaker) and ``gate``
(run-wide pause, adaptive rate, stop switch) carry it out; ``outcomes`` writes and counts;
``liveness`` is the one "is this run alive" rule (also used by `ledger status` and `ledger release`);
``progress`` the operator's line; ``profiles`` the retry profiles; ``ports`` the seam the actions
implement; ``testing`` a scripted executor for fast in-process tests.
"""
from __future__ import annotations
