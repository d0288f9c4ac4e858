"""Shared fixtures: a migrated ledger file in tmp_path and a CliRunner helper."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import structlog
from click.testing import CliRunner, Result

from ledger.store.engine import open_ledger


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the long end-to-end tests first (longest first: ``@pytest.mark.slow(minutes=N)``), so that
    with ``-n 2`` the rest of the suite runs beside them."""

    def minutes(item: pytest.Item) -> float:
        marker = item.get_closest_marker("slow")
        return -1.0 if marker is None else float(marker.kwargs.get("minutes", 0.5))

    items.sort(key=minutes, reverse=True)


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
