"""Rendering: import results, summaries, reports (text, JSON, CSV). Queries live in ledger.store_reports."""

from __future__ import annotations

from ledger.importer import ImportResult


def render_import(result: ImportResult) -> str:
    if result.already_imported:
        return (
            f"{result.path}: already imported as import {result.import_id} for {result.action} "
            f"({result.rows_total} rows); nothing added"
        )
    lines = [
        f"import {result.import_id}: {result.path} → {result.action}: {result.rows_total} rows, "
        f"{result.rows_valid} pending, {result.rows_invalid} invalid"
    ]
    if result.ignored_columns:
        lines.append(f"  ignored columns (not used by {result.action}): {', '.join(result.ignored_columns)}")
    for line_no, message in result.first_invalid:
        lines.append(f"  line {line_no}: {message}")
    if result.rows_invalid > len(result.first_invalid):
        lines.append(f"  … {result.rows_invalid - len(result.first_invalid)} more invalid rows: see `ledger report`")
    return "\n".join(lines)
