"""``report.html``: the end state as one self-contained page a customer can read.

No network and no JavaScript: the styles are inline and the progress bars are plain ``<div>``
widths. Every value that comes from the ledger (file names, entity names, error messages) goes
through :func:`esc` — the only way text reaches the page — so a cell holding ``<script>`` shows as
text. Built from the same snapshot as the other report files.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ledger.reporting.causes import Cause
from ledger.reporting.entities import EntityTable
from ledger.reporting.fixup import FixupFile
from ledger.reporting.tallies import STATES, Progress, Tallies

if TYPE_CHECKING:
    from ledger.reporting.report import Summary

#: entities shown in the page's table (all of those that need attention are in entities.csv)
MAX_ENTITY_ROWS = 5000

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2em;color:#222;max-width:1400px}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{width:160px;height:.9em;background:#eee;border-radius:3px;overflow:hidden}
.bar div{height:100%;background:#3a8f3a}
.complete,.succeeded,.skipped{color:#1d6b1d}.failed,.invalid{color:#b00020;font-weight:600}
.blocked{color:#b35c00;font-weight:600}.pending,.running{color:#555}
td.nw{white-space:nowrap}.muted{color:#666;font-size:.9em}code{background:#f5f5f5;padding:0 .2em}
"""


def esc(value: object) -> str:
    """Text for the page: ``None`` as empty, everything else HTML-escaped (quotes too)."""
    return "" if value is None else html.escape(str(value), quote=True)


def _cell(value: object, cls: str = "") -> str:
    attr = f' class="{esc(cls)}"' if cls else ""
    return f"<td{attr}>{esc(value)}</td>"


def _table(head: Sequence[str], rows: Iterable[str]) -> str:
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _bar(percent: float) -> str:
    return f'<td><div class="bar"><div style="width:{max(0.0, min(100.0, percent)):.1f}%"></div></div></td>'


def _progress_rows(items: Sequence[Progress]) -> list[str]:
    return [
        "<tr>" + _cell(p.name) + "".join(_cell(n, "n") for n in (p.total, p.complete, p.failed, p.blocked, p.pending))
        + _cell(f"{p.percent:.1f} %", "n") + _bar(p.percent) + "</tr>"
        for p in items
    ]


_PROGRESS_HEAD = ("", "total", "complete", "failed", "blocked", "pending", "done", "")


@dataclass(frozen=True)
class Page:
    title: str
    summary: Summary
    table: EntityTable  # the entities that need attention
    tallies: Tallies  # every entity counted; progress per step and per site
    causes: Sequence[Cause]
    fixups: Sequence[FixupFile]
    generated_at: str


def render_html(page: Page) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(page.title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{esc(page.title)}</h1>",
        f'<p class="muted">Generated {esc(page.generated_at)}. Current state: rows replaced by a later '
        "import are not counted.</p>",
        _overview(page),
        "<h2>Progress per step</h2>",
        '<p class="muted">The current rows of each step (one per entity that has the step).</p>',
        _table(("step", *_PROGRESS_HEAD[1:]), _progress_rows(page.tallies.steps)),
        "<h2>Progress per site</h2>",
        '<p class="muted">Entities of each site (the site itself, its people and workspaces).</p>',
        _table(("site", *_PROGRESS_HEAD[1:]), _progress_rows(page.tallies.sites)),
        _causes(page.causes),
        _fixups(page.fixups),
        _entities(page.table, page.tallies),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _overview(page: Page) -> str:
    rows = [
        "<tr>" + _cell(kind) + _cell(per["total"], "n") + "".join(_cell(per.get(st, 0), "n") for st in STATES) + "</tr>"
        for kind, per in page.tallies.kinds.items()
    ]
    s = page.summary
    note = (
        f"{s.total} rows: {s.succeeded} succeeded, {s.skipped} skipped (already as wanted), "
        f"{s.failed_row + s.failed_systemic} failed, {s.invalid} invalid, {s.blocked} blocked (waiting on a failed "
        f"earlier step), {s.pending} pending."
    )
    return (
        "<h2>Overview</h2>"
        + _table(("entities", "total", "complete", "failed", "blocked", "pending"), rows)
        + f"<p>{esc(note)}</p>"
    )


def _causes(causes: Sequence[Cause]) -> str:
    if not causes:
        return "<h2>Errors</h2><p>No errors.</p>"
    rows = [
        "<tr>" + _cell(c.count, "n") + _cell(c.action) + _cell(c.status, c.status)
        + _cell("/".join(str(x) for x in (c.http_status, c.error_code) if x is not None))
        + _cell(c.message) + _cell(c.example, "nw") + "</tr>"
        for c in causes
    ]
    return "<h2>Errors by cause</h2>" + _table(("rows", "step", "status", "HTTP/code", "cause", "for example"), rows)


def _fixups(fixups: Sequence[FixupFile]) -> str:
    if not fixups:
        return ""
    items = []
    for f in fixups:
        cmds = "<br>".join(f"<code>{esc(c)}</code>" for c in f.commands)
        items.append(
            f"<li><code>{esc(f.path.name)}</code>: {f.lines} lines of <code>{esc(Path(f.source).name)}</code>"
            + (" (rebuilt from the ledger: the source file is gone or changed)" if f.layout != "original" else "")
            + f"<br>{cmds}</li>"
        )
    return (
        "<h2>Fix-up files</h2><p>Each lists the lines with problems in the source file's own layout, with their "
        "errors in the last column (<code>ledger_errors</code>). Correct the cells, then import the file back:</p>"
        f"<ul>{''.join(items)}</ul>"
    )


def _entities(table: EntityTable, tallies: Tallies) -> str:
    shown = table.entities[:MAX_ENTITY_ROWS]
    rows = []
    for e in shown:
        steps = "".join(
            _cell(e.steps[a].status, e.steps[a].status) if a in e.steps else _cell("") for a in table.steps
        )
        rows.append(
            "<tr>" + _cell(e.entity.kind) + _cell(e.name) + _cell(e.site) + _cell(e.state, e.state)
            + steps + _cell(e.first_error(table.steps)) + "</tr>"
        )
    everyone = sum(per["total"] for per in tallies.kinds.values())
    first = f", this page the first {len(shown)}" if len(shown) < len(table.entities) else ""
    note = (
        f'<p class="muted">{len(table.entities)} of the {everyone} entities need attention (a step failed, is '
        f"invalid, blocked, or running): entities.csv lists them{first}. The others are counted above; the "
        "ledger's <code>entities</code> view lists every entity (<code>SELECT * FROM entities</code> with "
        "sqlite3 on the ledger file).</p>"
    )
    if not table.entities:
        return "<h2>Entities that need attention</h2>" + note
    head = ("kind", "entity", "site", "state", *table.steps, "first error")
    return "<h2>Entities that need attention</h2>" + note + _table(head, rows)
