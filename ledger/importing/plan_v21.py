"""``ledger plan init --v21``: the plan for the operators' v21 files, in the README's recommended order.

The 15 steps are the README's 15 ``ledger import`` commands (same actions, files, profiles and
chains); ``depends_on`` names steps instead of import ids. A step whose file (or profile) is not in
the directory is written commented out, with the reason, so the plan imports as it is and the
operator sees what is left out.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ledger.errors import InputError
from ledger.importing.csvsource import CsvSource, header_key

SOURCES = {"ubicaciones": "Ubicaciones.csv", "usuarios": "Usuarios.csv", "workspaces": "Workspaces.csv"}
GLOBAL = "global.csv"


@dataclass(frozen=True)
class V21Step:
    name: str
    action: str
    source: str  # a SOURCES key
    depends_on: tuple[str, ...] = ()
    profile: str | None = None  # file name next to the sources
    comment: str = ""


#: the README's "Manual form: 15 `ledger import` commands", one step per command (import 1 … 15)
V21_STEPS: tuple[V21Step, ...] = (
    V21Step("pstn", "location.pstn", "ubicaciones", comment="calling enabled + PSTN first"),
    V21Step("numbers", "location.numbers", "ubicaciones", ("pstn",)),
    V21Step("main_number", "location.main_number", "ubicaciones", ("numbers",), comment="needs its number added"),
    V21Step("internal_dialing", "location.internal_dialing", "ubicaciones", ("pstn",)),
    V21Step("location_permissions", "location.outgoing_permissions", "ubicaciones", ("pstn",), "location_profile.json"),
    V21Step("users", "user.scim_create", "usuarios", ("pstn", "numbers"), comment="after their sites"),
    V21Step("licenses", "user.licenses", "usuarios", ("users",)),
    V21Step("secondary_numbers", "user.secondary_number", "usuarios", ("licenses",)),
    V21Step("forwarding", "user.forwarding", "usuarios", ("licenses",)),
    V21Step("user_permissions", "user.outgoing_permissions", "usuarios", ("licenses",), "user_profile.json"),
    V21Step("workspaces", "workspace.create", "workspaces", ("pstn", "numbers")),
    V21Step("workspace_check", "workspace.check_permissions", "workspaces", ("workspaces",)),
    V21Step("workspace_secondary_numbers", "workspace.secondary_number", "workspaces", ("workspaces",)),
    V21Step("workspace_forwarding", "workspace.forwarding", "workspaces", ("workspace_check",)),
    V21Step("workspace_permissions", "workspace.outgoing_permissions", "workspaces", ("workspace_check",),
            "workspace_profile.json"),
)

_HEADER = """\
# ledger plan for the v21 files (written by `ledger plan init --v21`).
# Import it with `ledger import --plan {name}`, then run `ledger work`: one transaction creates every
# import below, each row waiting for the same person's / workspace's / site's row of the steps it
# depends on. Paths are relative to this file. Re-run `ledger import --plan` after correcting a file:
# the corrected lines supersede the earlier rows; unchanged files are "already imported".
"""


@dataclass(frozen=True)
class WrittenPlan:
    path: Path
    active: tuple[str, ...]
    left_out: tuple[tuple[str, str], ...]  # (step, reason)


def _q(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string


def _has_column(path: Path, column: str) -> bool:
    try:
        with CsvSource(path) as src:
            return column in {header_key(h) for h in src.header}
    except InputError:
        return False


def _why_left_out(step: V21Step, folder: Path) -> tuple[str | None, bool]:
    """(reason the step is left out, or None; whether its profile is used)."""
    source = folder / SOURCES[step.source]
    if not source.is_file():
        return f"{SOURCES[step.source]} not found", False
    if step.profile is None or (folder / step.profile).is_file():
        return None, step.profile is not None
    if _has_column(source, "call_type"):  # the file's own permission columns, without a profile
        return None, False
    return f"{step.profile} not found (and {SOURCES[step.source]} has no call_type column)", False


def render_v21_plan(folder: Path, plan_dir: Path, name: str = "plan.toml") -> tuple[str, WrittenPlan]:
    """The plan's text for the v21 files in ``folder``, with paths relative to ``plan_dir``."""
    rel = lambda p: os.path.relpath(folder / p, plan_dir)  # noqa: E731
    lines = [_HEADER.format(name=name), "[sources]"]
    lines += [f"{key} = {_q(rel(file))}" for key, file in SOURCES.items()]
    lines += ["", "[defaults]"]
    has_global = (folder / GLOBAL).is_file()
    lines.append(f"global = {_q(rel(GLOBAL))}" if has_global else f"# global = {_q(rel(GLOBAL))}  # not found")
    active: list[str] = []
    left_out: list[tuple[str, str]] = []
    for step in V21_STEPS:
        reason, with_profile = _why_left_out(step, folder)
        body = [f"name = {_q(step.name)}", f"action = {_q(step.action)}", f"source = {_q(step.source)}"]
        deps = [d for d in step.depends_on if d in active]  # a left-out step holds nothing back
        if deps:
            body.append(f"depends_on = [{', '.join(_q(d) for d in deps)}]")
        if with_profile:
            body.append(f"profile = {_q(rel(step.profile or ''))}")
        elif step.profile and reason is None:
            body.append(f"# profile = {_q(rel(step.profile))}  # not found: the file's own permission columns apply")
        lines.append("")
        note = f"  # {step.comment}" if step.comment else ""
        if reason is None:
            active.append(step.name)
            lines.append(f"[[steps]]{note}")
            lines += body
        else:
            left_out.append((step.name, reason))
            lines.append(f"# left out: {reason}; uncomment when it is there")
            lines.append("# [[steps]]")
            lines += [f"# {b}" for b in body]
    return "\n".join(lines) + "\n", WrittenPlan(plan_dir / name, tuple(active), tuple(left_out))


def write_v21_plan(folder: Path, out: Path, *, force: bool = False) -> WrittenPlan:
    """Write the v21 plan for the files in ``folder`` to ``out`` (refuses to overwrite unless ``force``)."""
    out = Path(out)
    if out.exists() and not force:
        raise InputError(f"{out}: already exists (use --force to overwrite it)")
    text, written = render_v21_plan(Path(folder).resolve(), out.resolve().parent, out.name)
    if not written.active:
        raise InputError(f"{folder}: none of {', '.join(SOURCES.values())} is there: nothing to plan")
    out.write_text(text, encoding="utf-8")
    return written
