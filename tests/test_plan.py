"""`ledger plan init --v21` + `ledger import --plan` (issue 12, item 4) on real files, ledgers and the sandbox.

The plan must create the same imports and chains as the README's 15 `ledger import` commands (read
from the README itself), on the operators' sample files and on a generated migration, and
`ledger work` must complete them.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from ledger.demo.samplegen import PROFILE, write_v21_migration
from ledger.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "data" / "samples"
PROFILES = ("location_profile.json", "user_profile.json", "workspace_profile.json")


def readme_commands() -> list[list[str]]:
    """The README's manual form: every `ledger import …` line of the "Recommended order" block."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("### Manual form: 15 `ledger import` commands", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    block = re.sub(r"\\\n\s*", " ", block)
    commands = [shlex.split(line.split("#", 1)[0]) for line in block.splitlines() if line.startswith("ledger import")]
    return [c[1:] for c in commands]


def _snapshot(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(db) as conn:
        return {
            "imports": conn.execute(
                "SELECT id, action, sha256, global_sha256, profile_sha256, rows_total, rows_invalid FROM imports ORDER BY id"
            ).fetchall(),
            "deps": conn.execute("SELECT * FROM import_deps ORDER BY import_id, depends_on_import_id").fetchall(),
            "rows": conn.execute(
                "SELECT import_id, line_no, status, entity_key, site_key, error_message, payload FROM ledger ORDER BY id"
            ).fetchall(),
        }


def _plan_and_manual(folder: Path, run_cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Result]:
    """Import ``folder`` twice: by the plan (returned ledger) and by the README's commands; compare."""
    monkeypatch.chdir(folder)
    init = run_cli("plan", "init", "--v21")
    assert init.exit_code == 0, init.output
    assert "wrote" in init.stdout and "15 steps" in init.stdout and "left out" not in init.stdout
    by_plan = tmp_path / "plan.db"
    imported = run_cli("import", "--plan", "plan.toml", db=by_plan)
    assert imported.exit_code == 0, imported.output
    manual = tmp_path / "manual.db"
    for args in readme_commands():
        res = run_cli(*args, db=manual)
        assert res.exit_code == 0, (args, res.output)
    assert _snapshot(by_plan) == _snapshot(manual)
    return by_plan, imported


def _profiles(folder: Path) -> None:
    for name in PROFILES:
        (folder / name).write_text(json.dumps(PROFILE), encoding="utf-8")


def test_the_readme_lists_the_15_commands_the_plan_replaces() -> None:
    commands = readme_commands()
    assert len(commands) == 15
    assert [c[c.index("--action") + 1] for c in commands][:2] == ["location.pstn", "location.numbers"]


def test_plan_on_the_operators_samples_equals_the_readme_commands_and_works(
    run_cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "v21"
    shutil.copytree(SAMPLES, folder)
    _profiles(folder)
    (folder / "Workspaces.csv").write_text(
        "display_name,location_name,extension,legacy_phone_number\n"
        "Recepción,CUV93470292900,80347300,+34516789012\nSala 1,CUV93516754500,80347301,+34513456789\n",
        encoding="utf-8",
    )
    db, imported = _plan_and_manual(folder, run_cli, tmp_path, monkeypatch)
    assert imported.stdout.count("\nstep ") == 15
    assert "step licenses (after users):" in imported.stdout
    with Sandbox(token="test-token", seed=1) as sb:
        sb.state.seed_from_samples(folder / "Ubicaciones.csv", folder / "Usuarios.csv", folder / "global.csv")
        env = {"WEBEX_BASE_URL": sb.base_url, "WEBEX_ACCESS_TOKEN": sb.token}
        work = run_cli("work", "--retry-profile", "fast", db=db, env=env)
    assert work.exit_code == 0, work.output
    with sqlite3.connect(db) as conn:
        left = conn.execute("SELECT count(*) FROM ledger WHERE status IN ('pending', 'running')").fetchone()[0]
        by_action = dict(conn.execute("SELECT action, group_concat(DISTINCT status) FROM ledger GROUP BY action").fetchall())
    assert left == 0
    # every location step completes: location.numbers also adds the main number (calling_line_id, not
    # in phone_numbers; v21_actions.md §3.2), so location.main_number finds it in the inventory
    for action in ("location.pstn", "location.numbers", "location.main_number", "location.internal_dialing"):
        assert by_action[action] == "succeeded", by_action


def test_plan_on_a_generated_migration_equals_the_readme_commands_and_completes(
    run_cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "v21"
    # 13 sites (the operators' count): site 10's numbers once met the sandbox's own (+3493100…)
    files = write_v21_migration(folder, sites=13, users=500, workspaces=50)
    db, imported = _plan_and_manual(folder, run_cli, tmp_path, monkeypatch)
    assert "invalid" not in imported.stdout.replace(" 0 invalid", "")
    with Sandbox(token="test-token", seed=1, seed_defaults=True) as sb:  # as `ledger sandbox` starts
        sb.state.seed_from_samples(files["Ubicaciones.csv"], files["Usuarios.csv"], files["global.csv"])
        env = {"WEBEX_BASE_URL": sb.base_url, "WEBEX_ACCESS_TOKEN": sb.token}
        work = run_cli("work", "--retry-profile", "fast", "--concurrency", "4", db=db, env=env)
        assert work.exit_code == 0, work.output
        assert len(sb.state.workspaces) >= 50
        assert all(sb.state.person_by_email(f"user{i:06d}@lab.example.com") for i in range(500))
    with sqlite3.connect(db) as conn:
        by_action = dict(conn.execute("SELECT action, group_concat(DISTINCT status) FROM ledger GROUP BY action").fetchall())
        total = conn.execute("SELECT count(*) FROM ledger").fetchone()[0]
    assert total == 5 * 13 + 5 * 500 + 5 * 50
    assert len(by_action) == 15
    assert all(set(s.split(",")) <= {"succeeded", "skipped"} for s in by_action.values()), by_action


def test_a_corrected_file_reimported_by_the_plan_supersedes(
    run_cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_path: Path
) -> None:
    folder = tmp_path / "v21"
    files = write_v21_migration(folder, sites=2, users=6, workspaces=2)
    monkeypatch.chdir(folder)
    run_cli("plan", "init", "--v21")
    users = files["Usuarios.csv"]
    users.write_text(users.read_text(encoding="utf-8").replace("user000003@lab.example.com", "bad@"), encoding="utf-8")
    assert run_cli("import", "--plan", "plan.toml").exit_code == 0
    users.write_text(users.read_text(encoding="utf-8").replace("bad@", "user000003@lab.example.com"), encoding="utf-8")
    again = run_cli("import", "--plan", "plan.toml")
    assert again.exit_code == 0, again.output
    assert "already imported as import 1 for location.pstn" in again.stdout
    # five user steps: each new row supersedes its earlier pending row; the corrected line, whose
    # earlier row named no person (email 'bad@'), supersedes the row of the same file and line
    assert again.stdout.count("supersedes 6 earlier rows of import") == 5
    assert "not applied to the earlier import" not in again.stdout
    with sqlite3.connect(ledger_path) as conn:
        superseded = conn.execute("SELECT count(*) FROM ledger WHERE status = 'superseded'").fetchone()[0]
    assert superseded == 5 * 6  # every earlier pending row of the five user steps (a new row per line)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[steps]]\nname = 'a'\naction = 'location.pstn'\nsource = 'x.csv'\ndepends_on = ['b']\n",
         "plan.toml: step 'a': depends_on 'b' is not the name of an earlier step"),
        ("[[steps]]\nname = 'a'\naction = 'nope'\nsource = 'x.csv'\n", "plan.toml: step 'a': unknown action 'nope'"),
        ("[[steps]\n", "plan.toml: not valid TOML"),
        ("[sources]\n", "plan.toml: no [[steps]]"),
        ("[[steps]]\nname = 'a'\naction = 'location.pstn'\nsource = 'missing.csv'\nwhen = 1\n",
         "plan.toml: step 'a': unknown field(s) 'when'"),
    ],
)
def test_a_bad_plan_is_one_line_and_writes_nothing(
    run_cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_path: Path, text: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("plan.toml").write_text(text, encoding="utf-8")
    res = run_cli("import", "--plan", "plan.toml")
    assert res.exit_code in (1, 2)
    assert res.stderr.startswith("ledger: error: ") and message in res.stderr and "Traceback" not in res.stderr


def test_a_failing_step_rolls_back_the_whole_plan(
    run_cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_path: Path
) -> None:
    folder = tmp_path / "v21"
    write_v21_migration(folder, sites=2, users=4, workspaces=2)
    monkeypatch.chdir(folder)
    run_cli("plan", "init", "--v21")
    Path("Workspaces.csv").write_text("display_name\n", encoding="utf-8")  # header only: a whole-file error
    res = run_cli("import", "--plan", "plan.toml")
    assert res.exit_code == 1 and "step 'workspaces'" in res.stderr and "no data rows" in res.stderr
    with sqlite3.connect(ledger_path) as conn:
        assert conn.execute("SELECT count(*) FROM imports").fetchone()[0] == 0


def test_a_plan_tells_the_columns_no_step_reads_once_per_file(
    run_cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_path: Path
) -> None:
    """Each step ignores columns that other steps of the same plan read: only the plan-wide unread ones count."""
    folder = tmp_path / "v21"
    shutil.copytree(SAMPLES, folder)
    users = folder / "Usuarios.csv"
    lines = users.read_text(encoding="utf-8").splitlines()
    # 'licenses' is read by an action the plan does not run; 'notes' by no action at all
    users.write_text("\n".join([lines[0] + ",licenses,notes", *(f"{line},,x" for line in lines[1:])]) + "\n", encoding="utf-8")
    monkeypatch.chdir(folder)
    assert run_cli("plan", "init", "--v21").exit_code == 0
    res = run_cli("import", "--plan", "plan.toml")
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "does not read these columns" not in out and "not used by" not in out  # no per-step notes
    assert "Ubicaciones.csv (steps pstn, numbers, main_number, internal_dialing):" in out
    assert out.count("ignored columns (no step of the plan reads them)") == 2  # one line per file
    assert "  ignored columns (no step of the plan reads them): primary, entity_id, group_id, notes\n" in out
    (warning,) = [line for line in out.splitlines() if "warning" in line]
    assert warning.startswith("  warning: no step of the plan reads these columns, which other actions read: licenses (user.")
    # a single import still names what its own action ignores
    single = run_cli("import", "Usuarios.csv", "--action", "user.forwarding")
    assert "warning: user.forwarding does not read these columns" in single.stdout


def test_a_windows_1252_file_is_told_once_in_a_plan(
    run_cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_path: Path
) -> None:
    """Five steps read Usuarios.csv: 'read as Windows-1252' once, at the first of them."""
    folder = tmp_path / "v21"
    shutil.copytree(SAMPLES, folder)
    users = folder / "Usuarios.csv"
    users.write_bytes(users.read_text(encoding="utf-8").encode("cp1252"))
    monkeypatch.chdir(folder)
    assert run_cli("plan", "init", "--v21").exit_code == 0
    res = run_cli("import", "--plan", "plan.toml")
    assert res.exit_code == 0, res.output
    notes = [i for i, line in enumerate(res.stdout.splitlines()) if "Usuarios.csv: not UTF-8; read as Windows-1252" in line]
    assert len(notes) == 1 and res.stdout.splitlines()[notes[0] - 1].startswith("step users")


def test_reimporting_a_corrected_file_counts_only_the_rows_left_to_do_as_pending(
    run_cli: Callable[..., Result], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ledger_path: Path
) -> None:
    """After a run, the corrected Usuarios.csv through the plan again: 29 lines were done, 1 is left.
    The import line said '30 pending' above '29 lines already done … not executed again'."""
    folder = tmp_path / "v21"
    files = write_v21_migration(folder, sites=3, users=30, workspaces=3)
    users = files["Usuarios.csv"]
    users.write_text(users.read_text(encoding="utf-8").replace("user000004@", "user000004"), encoding="utf-8")
    monkeypatch.chdir(folder)
    run_cli("plan", "init", "--v21")
    assert run_cli("import", "--plan", "plan.toml").exit_code == 0
    with sqlite3.connect(ledger_path) as conn:  # as if `ledger work` did every valid row
        conn.execute("UPDATE ledger SET status = 'succeeded' WHERE status IN ('pending', 'blocked')")
    users.write_text(users.read_text(encoding="utf-8").replace("user000004lab", "user000004@lab"), encoding="utf-8")
    again = run_cli("import", "--plan", "plan.toml").stdout
    assert "Usuarios.csv → user.scim_create: 30 rows, 1 pending, 29 already done, 0 invalid" in again
    assert "29 lines already done by import 6 (same action, entity and data): not executed again" in again
