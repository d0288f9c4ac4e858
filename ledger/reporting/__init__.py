"""Stage 3, `ledger report`, `ledger status`, `ledger actions`: the ledger rendered for operators.

``report`` builds the summary (counts, errors by cause, next steps) from one read snapshot
(``ledger.store.queries``) and writes ``run_summary.json``/``row_errors.csv`` (``blocked`` the
``blocked_rows.csv``); ``status`` the
`ledger status` view; ``endstate``/``entities``/``tallies``/``html``/``fixup``/``dry_run`` (plan.csv) the end-state files;
``causes`` groups errors; ``plan_import`` what `ledger import --plan` prints; ``action_docs`` the action
tables of `ledger actions` and the README. Read-only: never writes the ledger.
"""
from __future__ import annotations
