"""Stage 1, `ledger import` (and `ledger plan`): CSV → validated rows in the ledger.

``csvsource`` reads a file row by row with its line numbers; ``normalize`` turns each cell into its
column type; ``validate`` applies an action's spec (columns, cross-column rules, duplicate keys);
``importer`` streams it all into the ledger in one transaction (through ``ledger.store.imports``);
``chaining`` decides how a new import waits for earlier ones; ``fixups`` reads a fix-up file back;
``plan``/``plan_v21`` import a whole migration from one plan file. No Webex calls here.
"""
from __future__ import annotations
