"""`ledger work` checks the base URL and the token with one cheap request before claiming anything
(issue 13): nothing listening, a TLS failure or a 401 end the run at once with exit 3, a message
naming the URL (never the token), and every row still pending. Real subprocesses, real sockets."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ledger.sandbox.testing import sandbox  # noqa: F401 - fixture

TOKEN = "s3cr3t-token-value"


def _free_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ledger(*args: str, db: Path, base_url: str, token: str = TOKEN) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WEBEX_BASE_URL": base_url, "WEBEX_ACCESS_TOKEN": token}
    return subprocess.run(
        [sys.executable, "-m", "ledger.cli", "--db", str(db), *args],
        capture_output=True, text=True, env=env, timeout=120,
    )


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    db = tmp_path / "ledger.db"
    f = tmp_path / "sec.csv"
    f.write_text("email,legacy_phone_number\n" + "".join(f"u{i}@x.com,+3493555{i:04d}\n" for i in range(20)))
    res = _ledger("import", str(f), "--action", "user.secondary_number", db=db, base_url="http://unused")
    assert res.returncode == 0, res.stderr
    return db


def _statuses(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT status, count(*) FROM ledger GROUP BY status").fetchall())


def _attempts(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM attempts").fetchone()[0])


def test_nothing_listening_ends_work_with_exit_3_and_every_row_pending(imported: Path) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    res = _ledger("work", db=imported, base_url=url)
    assert res.returncode == 3, (res.stdout, res.stderr)
    assert f"cannot reach Webex at {url} (connection refused: nothing listening)" in res.stderr
    # true whether rows are pending or the migration is done ('every row is still pending' was not)
    assert res.stderr.rstrip().endswith("(no row was claimed: the ledger is unchanged)")
    assert res.stderr.count("\n") == 1 and "Traceback" not in res.stderr
    assert TOKEN not in res.stdout + res.stderr
    assert _statuses(imported) == {"pending": 20}
    assert _attempts(imported) == 0


def test_a_rejected_token_ends_work_after_one_request(imported: Path, sandbox) -> None:  # noqa: F811
    res = _ledger("work", db=imported, base_url=sandbox.base_url, token="Bearer " + TOKEN)
    assert res.returncode == 3, (res.stdout, res.stderr)
    assert f"Webex at {sandbox.base_url} rejected the access token (HTTP 401)" in res.stderr
    assert TOKEN not in res.stdout + res.stderr
    assert [(r.method, r.path) for r in sandbox.requests()] == [("GET", "/v1/people/me")]
    assert _statuses(imported) == {"pending": 20}


def test_a_tls_failure_ends_work_with_exit_3(imported: Path, sandbox) -> None:  # noqa: F811
    url = sandbox.base_url.replace("http://", "https://")  # the sandbox speaks plain HTTP
    res = _ledger("work", db=imported, base_url=url, token=sandbox.token)
    assert res.returncode == 3, (res.stdout, res.stderr)
    assert f"cannot reach Webex at {url} (TLS handshake failed)" in res.stderr
    assert _statuses(imported) == {"pending": 20}


def test_a_host_name_that_does_not_resolve_ends_work_with_exit_3(imported: Path) -> None:
    url = "http://webex-h13.invalid/v1"  # .invalid never resolves (RFC 6761)
    res = _ledger("work", db=imported, base_url=url)
    assert res.returncode == 3, (res.stdout, res.stderr)
    assert f"cannot reach Webex at {url} (host name not found in DNS)" in res.stderr
    assert _statuses(imported) == {"pending": 20}
