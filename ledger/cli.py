"""The command line: click commands only. Each parses options, calls one library function, renders.

No SQL, no Webex calls and no business logic here. Heavy modules (wxc_sdk, the sandbox, the
worker) are imported inside the commands that need them, so `ledger import` stays fast.
Errors from the library (``ledger.errors.LedgerError``) are turned into one line on stderr and
an exit code at exactly one place: :meth:`LedgerGroup.invoke`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from ledger.errors import LedgerError
from ledger.models import RETRYABLE_STATUSES
from ledger.work.profiles import PROFILES, profiles_help

EXIT_CODES_HELP = """\b
Exit codes:
  0  every claimable row reached a final state (partial success included)
  1  other fatal error
  2  usage error
  3  FAILED_SYSTEMIC: the breaker opened and did not recover, or the token was rejected (401)
     or lacks a scope or role (403), or nothing answers at WEBEX_BASE_URL (checked first)
  4  interrupted by a signal (run `ledger work` again to resume)
"""


class LedgerGroup(click.Group):
    """Translates library errors into one clear line and an exit code (the only such seam)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LedgerError as exc:
            click.echo(f"ledger: error: {exc.message}", err=True)
            if exc.immediate:  # e.g. a second Ctrl-C: requests in flight are not waited for
                sys.stderr.flush()
                os._exit(int(exc.exit_code))
            ctx.exit(int(exc.exit_code))


@click.group(cls=LedgerGroup, epilog=EXIT_CODES_HELP)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default="ledger.db",
    show_default=True,
    envvar="LEDGER_DB",
    help="The SQLite ledger file (created and migrated automatically). Env: LEDGER_DB.",
)
@click.version_option(package_name="ledger")
@click.pass_context
def cli(ctx: click.Context, db_path: Path) -> None:
    """ledger: apply one Webex Calling operation per CSV row, resumably, from a SQLite ledger."""
    from ledger.logsetup import configure_logging

    ctx.obj = db_path
    configure_logging(db_path)


def _ledger(db_path: Path, *, readonly: bool = False) -> Any:
    """The ledger's engine for this command, disposed when the command ends (``ctx.with_resource``)."""
    from ledger.store.engine import opened

    return click.get_current_context().with_resource(opened(db_path, readonly=readonly))


# --- input ------------------------------------------------------------------------------------


@cli.command("import")
@click.argument("file", type=click.Path(path_type=Path), required=False)
@click.option("--action", "action_name", help="Action name or v21 alias (see `ledger actions`).")
@click.option("--global", "global_path", type=click.Path(path_type=Path), help="A one-row global.csv merged under every row.")
@click.option("--profile", "profile_path", type=click.Path(path_type=Path), help="Outgoing-permission profile JSON (permission actions).")
@click.option("--after", type=int, multiple=True, help="Import id whose rows (same person/workspace/site) must be final first; repeatable.")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path), help="Import every step of a plan file (TOML) instead; see `ledger plan init`.")
@click.option("--encoding", help="Encoding of the files [default: UTF-8, else Windows-1252 (Excel's 'CSV'), with a note].")
@click.pass_obj
def import_cmd(db_path: Path, file: Path | None, action_name: str | None, global_path: Path | None, profile_path: Path | None, after: tuple[int, ...], plan_path: Path | None, encoding: str | None) -> None:
    """Load a CSV file into the ledger, one row per line (or every step of a --plan).

    One transaction: a whole-file problem writes nothing; invalid rows are stored as `invalid` with
    their line numbers. Importing the same file again adds nothing; a corrected file supersedes.
    """
    import functools

    from ledger.actions import REGISTRY, get_spec
    from ledger.actions.catalog import CALL_TYPES, PERMISSION_ACTIONS
    from ledger.importing.importer import import_file
    from ledger.importing.plan import import_plan_file
    from ledger.importing.validate import parse_profile
    from ledger.reporting.plan_import import render_plan
    from ledger.reporting.report import render_import

    read_profile = functools.partial(parse_profile, call_types=CALL_TYPES, actions=PERMISSION_ACTIONS)
    if plan_path is not None:
        if file is not None or action_name or global_path or profile_path or after:
            raise click.UsageError("--plan takes no FILE, --action, --global, --profile or --after (the plan names them)")
        click.echo(render_plan(import_plan_file(_ledger(db_path), plan_path, resolve=get_spec, read_profile=read_profile, registry=REGISTRY, encoding=encoding)))
        return
    if file is None or not action_name:
        raise click.UsageError("give FILE and --action NAME (or --plan PLAN.toml)")
    spec = get_spec(action_name)
    profile = None if profile_path is None else read_profile(profile_path)
    result = import_file(_ledger(db_path), spec, file, global_path=global_path, profile=profile, after=after, encoding=encoding, registry=REGISTRY)
    click.echo(render_import(result))


@cli.group("plan")
def plan_group() -> None:
    """Plan files: a whole migration imported by one `ledger import --plan PLAN.toml`."""


@plan_group.command("init")
@click.option("--v21", "v21", is_flag=True, required=True, help="The plan for the v21 files: Ubicaciones.csv, Usuarios.csv, Workspaces.csv, global.csv.")
@click.option("--dir", "folder", default=".", show_default=True, type=click.Path(file_okay=False, path_type=Path), help="Where the v21 files are.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="The plan file to write [default: DIR/plan.toml].")
@click.option("--force", is_flag=True, help="Overwrite an existing plan file.")
def plan_init_cmd(v21: bool, folder: Path, out: Path | None, force: bool) -> None:
    """Write a plan file in the README's recommended order (steps whose file is missing are commented out)."""
    from ledger.importing.plan_v21 import write_v21_plan
    from ledger.reporting.plan_import import render_written_plan

    click.echo(render_written_plan(write_v21_plan(folder, out or folder / "plan.toml", force=force)))


@cli.command("actions")
@click.argument("names", nargs=-1)
def actions_cmd(names: tuple[str, ...]) -> None:
    """List the actions, their v21 aliases and columns (* = required)."""
    from ledger.actions import REGISTRY, get_spec
    from ledger.reporting.action_docs import render_actions

    click.echo(render_actions(REGISTRY, [get_spec(n) for n in names] or None))


# --- progress and reports ---------------------------------------------------------------------------


@cli.command("report")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Directory for the files [default: report/ next to the ledger].")
@click.option("--import", "import_id", type=int, help="Only the rows of this import.")
@click.pass_obj
def report_cmd(db_path: Path, out_dir: Path | None, import_id: int | None) -> None:
    """Summarise the ledger; write run_summary.json, row_errors.csv, blocked_rows.csv, entities.csv,
    report.html, the fix-up files (fixup/) and, after a dry run, plan.csv.

    Read-only: works during a run and after a crash.
    """
    from ledger.reporting.report import default_report_dir, render_report, write_report

    files = write_report(_ledger(db_path, readonly=True), out_dir or default_report_dir(db_path), import_id)
    click.echo(render_report(files))


@cli.command("status")
@click.option("--import", "import_id", type=int, help="Only this import.")
@click.pass_obj
def status_cmd(db_path: Path, import_id: int | None) -> None:
    """Show progress per import (counts, % done) and the last run."""
    from ledger.reporting.report import summary
    from ledger.reporting.status import render_status

    click.echo(render_status(summary(_ledger(db_path, readonly=True), import_id)))


# --- recovery ------------------------------------------------------------------------------------


@cli.command("retry")
@click.option("--status", "statuses", type=click.Choice([s.value for s in RETRYABLE_STATUSES]), multiple=True, default=["failed"], show_default=True, help="Rows in this status (repeatable).")
@click.option("--import", "import_ids", type=int, multiple=True, help="Only the rows of this import (repeatable).")
@click.option("--kind", "kinds", type=click.Choice(["row", "transient", "systemic"]), multiple=True, help="Only failures of this error kind (repeatable).")
@click.pass_obj
def retry_cmd(db_path: Path, statuses: tuple[str, ...], import_ids: tuple[int, ...], kinds: tuple[str, ...]) -> None:
    """Put failed rows back to pending; then run `ledger work`.

    Attempts are reset, errors and result cleared (each execution's result stays in the row's
    attempts). Invalid and running rows are never touched; rows blocked by the retried ones wait again.
    """
    from ledger.models import ErrorKind, RowStatus
    from ledger.reporting.report import render_retried
    from ledger.store.recovery import retry_rows

    n = retry_rows(_ledger(db_path), statuses=[RowStatus(s) for s in statuses], import_ids=import_ids, kinds=[ErrorKind(k) for k in kinds])
    click.echo(render_retried(n))


def _duration(_ctx: click.Context, _param: click.Parameter, value: str) -> float:
    from ledger.settings import parse_duration

    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command("release")
@click.option("--older-than", "older_than_s", default="15m", show_default=True, callback=_duration, help="A run on another host is dead after this long without a heartbeat (30s, 15m, 2h).")
@click.option("--force", is_flag=True, help="Also release runs on this host whose process still exists, once silent for --older-than (a hung process: its rows may be worked twice).")
@click.pass_obj
def release_cmd(db_path: Path, older_than_s: float, force: bool) -> None:
    """Give rows held by dead runs back to pending.

    A run on this host is dead when its process is gone; on another host, when its heartbeat is
    older than --older-than (the rule `ledger work` and `ledger status` use). Live runs are never
    touched unless --force.
    """
    from ledger.reporting.report import render_released
    from ledger.work.liveness import release

    if force:
        click.echo("ledger: warning: --force releases rows of runs that may still be working them; they may be applied twice", err=True)
    released = release(_ledger(db_path), older_than_s=older_than_s, force=force)
    click.echo(render_released(released.rows, older_than_s, force=force))


def _fault_spec(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    from ledger.sandbox import FaultConfig

    try:
        FaultConfig.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


@cli.command("sandbox")
@click.option("--port", default=0, show_default=True, help="TCP port on 127.0.0.1 (0 = a free port).")
@click.option("--faults", "faults_spec", callback=_fault_spec, help='Fault spec, e.g. "429=0.05,503=0.02,retry_after=1" (see README).')
@click.option("--latency", "latency_ms", default=0.0, show_default=True, help="Added latency per request, in ms.")
@click.option("--seed", type=int, help="Random seed: the same seed and requests give the same faults.")
@click.option("--state", "--state-file", "state_file", type=click.Path(dir_okay=False, path_type=Path), help="Write state + request log here as JSON on shutdown.")
@click.option("--token", envvar="SANDBOX_TOKEN", help="Bearer token the sandbox accepts [default: a random one, printed].")
@click.option("--samples", "samples_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), help="Also load the operators' Ubicaciones/Usuarios/global CSVs from DIR, with their ids.")
def sandbox_cmd(port: int, faults_spec: str | None, latency_ms: float, seed: int | None, state_file: Path | None, token: str | None, samples_dir: Path | None) -> None:
    """Run a local, stateful Webex API fake on 127.0.0.1 to rehearse a run (Ctrl-C stops it)."""
    from ledger.sandbox import serve

    serve(port=port, faults_spec=faults_spec, latency_ms=latency_ms, seed=seed, state_file=state_file, token=token, seed_samples_dir=samples_dir, print_fn=click.echo)


# --- the work ---------------------------------------------------------------------------------------

WORK_HELP = """\b
A 429/423 pauses the whole run for its Retry-After and is not counted as a try.
Env: WEBEX_ACCESS_TOKEN (required), WEBEX_BASE_URL (default: the Webex API).
"""


@cli.command("work", epilog=profiles_help() + "\n\n" + WORK_HELP + "\n" + EXIT_CODES_HELP)
@click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10_000), help="Rows claimed per batch.")
@click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 32), help="Rows executed at once.")
@click.option("--max-rate", type=click.FloatRange(min=1), help="Cap on Webex requests per minute (adaptive below it after 429s).")
@click.option("--dry-run", is_flag=True, help="Read-only: record in each row's result what would change; rows stay pending.")
@click.option("--retry-profile", default="default", show_default=True, type=click.Choice(list(PROFILES)), help="Retry/timeout/breaker settings (below).")
@click.option("--import", "import_id", type=int, help="Only the rows of this import.")
@click.pass_context
def work_cmd(ctx: click.Context, batch_size: int, concurrency: int, max_rate: float | None, dry_run: bool, retry_profile: str, import_id: int | None) -> None:
    """Apply every pending row to Webex: resumable, safe to re-run, several workers may share a ledger."""
    from ledger.settings import WorkSettings
    from ledger.work.run import run_work, start_up

    factory = start_up(lambda: _webex_executors(concurrency, dry_run))
    for note in factory.notes:
        click.echo(note, err=True)
    settings = WorkSettings(ctx.obj, batch_size, concurrency, max_rate, dry_run, retry_profile, import_id)
    report = run_work(settings, factory)
    click.echo(report.render())
    ctx.exit(int(report.exit_code))


def _webex_executors(concurrency: int, dry_run: bool) -> Any:
    """The run's executors on Webex, from WEBEX_ACCESS_TOKEN / WEBEX_BASE_URL (imports wxc_sdk)."""
    from ledger.actions.runtime import WebexExecutors

    return WebexExecutors.from_env(os.environ, concurrency=concurrency, dry_run=dry_run)


@cli.command("demo")
@click.option("--out", "out_dir", default="demo-out", show_default=True, type=click.Path(file_okay=False, path_type=Path), help="Directory for the demo's CSV, ledger and reports (its ledger is recreated).")
@click.option("--rows", default=3000, show_default=True, type=click.IntRange(1, 100_000), help="Users to generate.")
@click.option("--seed", default=21, show_default=True, help="Seed for the data and the faults.")
@click.option("--faults", "faults_spec", callback=_fault_spec, help="Sandbox fault spec [default: a mild mix].")
@click.pass_context
def demo_cmd(ctx: click.Context, out_dir: Path, rows: int, seed: int, faults_spec: str | None) -> None:
    """Run the main job (import, work, report) against the built-in local Webex sandbox."""
    from ledger.demo.run import DEFAULT_FAULTS, run_demo
    from ledger.logsetup import configure_logging

    configure_logging(out_dir / "ledger.db")  # the demo's log goes next to the demo's own ledger
    result = run_demo(out_dir, rows=rows, seed=seed, faults=faults_spec or DEFAULT_FAULTS, echo=click.echo)
    ctx.exit(int(result.exit_code))


def main() -> None:
    cli(prog_name="ledger")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
