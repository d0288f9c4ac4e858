"""A plain (non-editable) install works: the wheel carries the migrations and migrates a new ledger.

The wheel is built from a copy of the sources (so no ``build/`` appears in the work tree) with the test
venv's setuptools (``--no-build-isolation --no-index``: no network), installed with pip ``--target`` into
a directory that is put first on ``PYTHONPATH``: the dependencies come from this venv, ``ledger`` and its
migrations only from the wheel (the checkout's ``migrations/`` is not reachable from there).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ledger.store.engine import KNOWN_REVISIONS

ROOT = Path(__file__).resolve().parents[1]
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for name in ("ledger", "migrations"):
        shutil.copytree(ROOT / name, src / name, ignore=_IGNORE)
    out = base / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr
    (built,) = out.glob("ledger-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path) -> Path:
    """The wheel installed by pip into a directory of its own (``--target``: package + ``bin/ledger``)."""
    target = wheel.parent.parent / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet", "--target", str(target),
         str(wheel)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return target


def _run(installed: Path, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(installed)}
    env.pop("LEDGER_DB", None)
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def _revision(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])


@pytest.mark.slow(minutes=1)
def test_wheel_carries_every_package_and_every_migration(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    revisions = sorted(p.name for p in (ROOT / "migrations/versions").glob("*.py") if p.name != "__init__.py")
    assert len(revisions) == len(KNOWN_REVISIONS)
    expected = {f"ledger/_migrations/versions/{name}" for name in revisions}
    expected |= {"ledger/_migrations/env.py", "ledger/_migrations/script.py.mako", "ledger/py.typed"}
    # the package list in pyproject.toml is explicit: every module of the checkout must be in the wheel
    expected |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "ledger").rglob("*.py") if "__pycache__" not in p.parts}
    assert sorted(expected - names) == []
    assert not [n for n in names if n.startswith("migrations/") or "__pycache__" in n]


@pytest.mark.slow(minutes=1)
def test_installed_wheel_creates_and_upgrades_a_ledger(installed: Path, tmp_path: Path) -> None:
    python = sys.executable
    where = _run(installed, tmp_path, python, "-c",
                 "import ledger; from ledger.store.engine import migrations_dir; print(ledger.__file__); print(migrations_dir())")
    assert where.returncode == 0, where.stderr
    package_file, location = where.stdout.split()
    assert Path(package_file).is_relative_to(installed) and Path(location) == installed / "ledger" / "_migrations"

    # a new ledger: created and migrated to head by the installed console script
    csv = tmp_path / "u.csv"
    csv.write_text("email,first_name,last_name\na@x.com,A,B\nb@x.com,C,D\n", encoding="utf-8")
    db = tmp_path / "new.db"
    ledger = str(installed / "bin" / "ledger")
    imported = _run(installed, tmp_path, ledger, "--db", str(db), "import", str(csv), "--action", "user.create")
    assert imported.returncode == 0, imported.stderr
    status = _run(installed, tmp_path, ledger, "--db", str(db), "status")
    assert status.returncode == 0, status.stderr
    assert "u.csv" in status.stdout
    assert _revision(db) == KNOWN_REVISIONS[-1]

    # an old ledger (first revision, written by the installed code) is upgraded by the next command
    old = tmp_path / "old.db"
    made = _run(installed, tmp_path, python, "-c",
                "import sys; from ledger.store.engine import make_engine, migrate; e = make_engine(sys.argv[1]); "
                "migrate(e, sys.argv[2]); e.dispose()", str(old), KNOWN_REVISIONS[0])
    assert made.returncode == 0, made.stderr
    assert _revision(old) == KNOWN_REVISIONS[0]
    upgraded = _run(installed, tmp_path, ledger, "--db", str(old), "status")
    assert upgraded.returncode == 0, upgraded.stderr
    assert _revision(old) == KNOWN_REVISIONS[-1]
