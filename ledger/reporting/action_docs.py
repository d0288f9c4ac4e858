"""The action registry rendered for operators: `ledger actions` and the README's action tables.

Generated from the specs (``ledger.actions.catalog``), so the help and the README cannot drift
from what ``ledger import`` accepts (``tests/test_cli_foundation.py`` checks the README).
"""

from __future__ import annotations

from typing import Any

from ledger.spec import ActionSpec, Registry


def _col_type(col: Any, sep: str = "|") -> str:
    return f"{col.type.value}({sep.join(col.choices)})" if col.choices else col.type.value


def _rules(spec: ActionSpec) -> list[str]:
    out = [f"one of {' / '.join(g)}" for g in spec.one_of]
    out += [f"{a} and {b} disjoint" for a, b in spec.disjoint]
    if spec.work:
        out.append(f"nothing to do when {' / '.join(spec.work)} {'is' if len(spec.work) == 1 else 'are all'} empty")
    out += [f"{c} needs {' / '.join(n)}" for c, n in spec.requires]
    if spec.key:
        out.append(f"key {' + '.join(spec.key)}")
    if spec.accepts_profile:
        out.append("accepts --profile")
    return out


def actions_markdown(registry: Registry) -> str:
    """The README's action table (Markdown), generated from the specs."""
    lines = []
    for spec in registry.specs:
        aliases = ", ".join(f"`{a}`" for a in spec.aliases)
        lines.append(f"### `{spec.name}`\n")
        lines.append(f"{spec.summary}." + (f" v21 names: {aliases}." if aliases else ""))
        rules = _rules(spec)
        if rules:
            lines.append(f"Rules: {'; '.join(rules)}.")
        lines.append("")
        lines.append("| column | type | required | default | help |")
        lines.append("|---|---|---|---|---|")
        for col in spec.columns:
            name = f"`{col.name}`" + "".join(f" / `{a}`" for a in col.aliases)
            default = "" if col.default is None else f"`{col.default}`"
            lines.append(f"| {name} | {_col_type(col, ', ')} | {'yes' if col.required else ''} | {default} | {col.help} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render_actions(registry: Registry, only: list[ActionSpec] | None = None) -> str:
    """``ledger actions [NAME...]``: the actions with their aliases and columns (``*`` = required)."""
    lines = []
    for spec in only or registry.specs:
        lines.append(f"{spec.name}  — {spec.summary}")
        if spec.aliases:
            lines.append(f"  aliases: {', '.join(spec.aliases)}")
        for col in spec.columns:
            mark = "*" if col.required else " "
            extra = f" (or {', '.join(col.aliases)})" if col.aliases else ""
            default = f" [default {col.default}]" if col.default is not None else ""
            lines.append(f"  {mark} {col.name}{extra}: {_col_type(col)}{default}  {col.help}".rstrip())
        rules = _rules(spec)
        if rules:
            lines.append(f"  rules: {'; '.join(rules)}")
        lines.append("")
    lines.append("* = required column; booleans accept TRUE/FALSE/true/false/1/0/sí/si/yes/no")
    return "\n".join(lines)
