"""A whole migration in one file: ``ledger import --plan PLAN.toml`` and ``ledger plan init --v21``.

A plan names its source files and its steps; each step is one import (action, source, optional
profile and global.csv) and names the earlier steps it depends on. ``import_plan`` creates every
import, with its per-entity chains (``ledger.importing.chaining``), in **one** transaction: a problem
in any step writes nothing. No import ids by hand: ``depends_on`` names steps. Running the plan again
with corrected files supersedes what they correct (``ledger.store.chains.supersede``); steps whose
file did not change are "already imported".

Format (paths relative to the plan file)::

    [sources]
    ubicaciones = "Ubicaciones.csv"
    usuarios = "Usuarios.csv"

    [defaults]
    global = "global.csv"          # merged under every step's rows (a step may set its own, or "")

    [[steps]]
    name = "pstn"
    action = "location.pstn"
    source = "ubicaciones"         # a [sources] key, or a path

    [[steps]]
    name = "numbers"
    action = "location.numbers"
    source = "ubicaciones"
    depends_on = ["pstn"]          # earlier steps only
    # profile = "location_profile.json"
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Required, TypedDict, Unpack

import sqlalchemy as sa

from ledger.errors import InputError, LedgerError
from ledger.importing.csvsource import header_key
from ledger.importing.importer import ImportResult, import_into
from ledger.spec import ActionSpec, Registry

_STEP_KEYS = frozenset({"name", "action", "source", "profile", "global", "depends_on"})
_TOP_KEYS = frozenset({"sources", "defaults", "steps"})


@dataclass(frozen=True)
class PlanStep:
    name: str
    action: str
    source: Path
    profile: Path | None = None
    global_path: Path | None = None
    depends_on: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    path: Path
    steps: tuple[PlanStep, ...]


@dataclass(frozen=True)
class UnreadColumns:
    """The columns of one source file that no step of the plan reads (told once per file)."""

    source: Path
    steps: tuple[str, ...]  # the plan's steps that read this file
    family: tuple[tuple[str, str], ...] = ()  # (column, an action outside the plan that reads it)
    ignored: tuple[str, ...] = ()  # columns no action of the file's kind reads


@dataclass(frozen=True)
class PlanResult:
    plan: Path
    steps: tuple[tuple[PlanStep, ImportResult], ...]
    # per source file: its columns no step reads (each step's own column notes are left out in a plan:
    # another step of the same plan may read what one step ignores)
    unread: tuple[UnreadColumns, ...] = ()


def load_plan(path: Path) -> Plan:
    """Read and check a plan file; InputError naming the file, the step and the field."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise InputError(f"{path}: unknown table(s) {', '.join(map(repr, unknown))} (expected sources, defaults, steps)")
    base = path.resolve().parent
    sources = _table(data, "sources", path)
    defaults = _table(data, "defaults", path)
    default_global = _opt_path(defaults.get("global"), base, f"{path}: defaults.global")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise InputError(f"{path}: no [[steps]]: a plan needs at least one step")
    steps: list[PlanStep] = []
    for i, raw in enumerate(raw_steps, start=1):
        steps.append(_step(raw, i, steps, sources, base, default_global, path))
    return Plan(path, tuple(steps))


def _table(data: Mapping[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InputError(f"{path}: [{key}] must be a table")
    return value


def _opt_path(value: Any, base: Path, where: str) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: must be a file path (a string)")
    return base / value


def _step(
    raw: Any,
    i: int,
    earlier: list[PlanStep],
    sources: Mapping[str, Any],
    base: Path,
    default_global: Path | None,
    path: Path,
) -> PlanStep:
    if not isinstance(raw, dict):
        raise InputError(f"{path}: step {i}: must be a table ([[steps]])")
    name = raw.get("name")
    where = f"{path}: step {name!r}" if isinstance(name, str) and name else f"{path}: step {i}"
    unknown = sorted(set(raw) - _STEP_KEYS)
    if unknown:
        raise InputError(f"{where}: unknown field(s) {', '.join(map(repr, unknown))}")
    for key in ("name", "action", "source"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            raise InputError(f"{where}: {key!r} is required (a string)")
    if any(s.name == name for s in earlier):
        raise InputError(f"{where}: the name is used by an earlier step")
    source = raw["source"]
    if source in sources:
        source = sources[source]
        if not isinstance(source, str):
            raise InputError(f"{path}: sources.{raw['source']}: must be a file path (a string)")
    depends = raw.get("depends_on", [])
    if isinstance(depends, str):
        depends = [depends]
    if not isinstance(depends, list) or not all(isinstance(d, str) for d in depends):
        raise InputError(f"{where}: depends_on must be a list of step names")
    names = {s.name for s in earlier}
    for dep in depends:
        if dep not in names:
            raise InputError(
                f"{where}: depends_on {dep!r} is not the name of an earlier step (a step depends on steps above it)"
            )
    glob = _opt_path(raw["global"], base, f"{where}: global") if "global" in raw else default_global
    return PlanStep(
        name=name,
        action=raw["action"].strip(),
        source=base / source,
        profile=_opt_path(raw.get("profile"), base, f"{where}: profile"),
        global_path=glob,
        depends_on=tuple(dict.fromkeys(depends)),
    )


class PlanOptions(TypedDict, total=False):
    """The keyword options of :func:`import_plan_file` (those of :func:`import_plan`)."""

    resolve: Required[Callable[[str], ActionSpec]]
    read_profile: Required[Callable[[Path], dict[str, Any]]]
    registry: Registry | None
    encoding: str | None


def import_plan(
    conn: sa.Connection,
    plan: Plan,
    *,
    resolve: Callable[[str], ActionSpec],
    read_profile: Callable[[Path], dict[str, Any]],
    registry: Registry | None = None,
    encoding: str | None = None,
) -> PlanResult:
    """Every step of ``plan`` as an import, in the caller's transaction (one for the whole plan);
    ``resolve`` turns an action name into its spec, ``read_profile`` reads a ``profile`` file."""
    specs = {s.name: _resolve(resolve, s, plan.path) for s in plan.steps}  # every action checked first
    ids: dict[str, int] = {}
    done: list[tuple[PlanStep, ImportResult]] = []
    for step in plan.steps:
        try:
            profile = None if step.profile is None else read_profile(step.profile)
            result = import_into(
                conn,
                specs[step.name],
                step.source,
                global_path=step.global_path,
                profile=profile,
                after=[ids[d] for d in step.depends_on],
                encoding=encoding,
                registry=registry,
            )
        except LedgerError as exc:
            raise type(exc)(f"{plan.path}: step {step.name!r}: {exc.message}") from None
        ids[step.name] = result.import_id
        # an unchanged file: its chains were recorded when it was first imported (by this plan)
        done.append((step, dataclasses.replace(result, after_ignored=())))
    return PlanResult(plan.path, *_unread_columns(done, specs))


def _unread_columns(
    done: list[tuple[PlanStep, ImportResult]], specs: Mapping[str, ActionSpec]
) -> tuple[tuple[tuple[PlanStep, ImportResult], ...], tuple[UnreadColumns, ...]]:
    """The steps without their per-step column notes, and per source the columns no step reads."""
    read: dict[Path, set[str]] = {}
    for step, _ in done:
        read.setdefault(step.source, set()).update(specs[step.name].header_names())
    unread: dict[Path, UnreadColumns] = {}
    for step, result in done:
        seen = unread.setdefault(step.source, UnreadColumns(step.source, ()))
        # only a new import knows the file's header: the columns it ignores, less what other steps read
        family = seen.family or tuple((c, a) for c, a in result.family_columns if header_key(c) not in read[step.source])
        ignored = seen.ignored or tuple(c for c in result.ignored_columns if header_key(c) not in read[step.source])
        unread[step.source] = UnreadColumns(step.source, (*seen.steps, step.name), family, ignored)
    steps = tuple((step, dataclasses.replace(r, family_columns=(), ignored_columns=())) for step, r in done)
    return steps, tuple(u for u in unread.values() if u.family or u.ignored)


def _resolve(resolve: Callable[[str], ActionSpec], step: PlanStep, path: Path) -> ActionSpec:
    try:
        return resolve(step.action)
    except LedgerError as exc:
        raise type(exc)(f"{path}: step {step.name!r}: {exc.message}") from None


def import_plan_file(engine: sa.Engine, path: Path, **options: Unpack[PlanOptions]) -> PlanResult:
    """``ledger import --plan``: load the plan, then import every step in one transaction."""
    plan = load_plan(path)
    with engine.begin() as conn:
        return import_plan(conn, plan, **options)
