"""Shared fixtures: a migrated ledger file in tmp_path and a CliRunner helper."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog
from click.testing import CliRunner, Result

from ledger.db.engine import open_ledger


@pytest.fixture
def ledger_path(tmp_path: Path) -> Path:
    """A ledger file migrated to head (closed again: open it with ``open_ledger``)."""
    path = tmp_path / "ledger.db"
    open_ledger(path).dispose()
    return path


@pytest.fixture
def engine(ledger_path: Path) -> Iterator[sa.Engine]:
    """A write engine on ``ledger_path``."""
    eng = open_ledger(ledger_path)
    yield eng
    eng.dispose()


@pytest.fixture
def run_cli(ledger_path: Path) -> Callable[..., Result]:
    """``run_cli("import", str(csv), "--action", "user.create")`` → click Result on ``ledger_path``.

    stderr is kept apart (``result.stderr``); pass ``db=`` to use another ledger file.
    """
    from ledger.cli import cli

    def _run(*args: str, db: Path | None = None, env: dict[str, str] | None = None) -> Result:
        runner = CliRunner()
        try:
            return runner.invoke(cli, ["--db", str(db or ledger_path), *args], env=env, catch_exceptions=False)
        finally:
            structlog.reset_defaults()  # the CLI configured logging for this ledger; do not leak it


    return _run
