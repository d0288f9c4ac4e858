"""The access token never reaches the ledger file, the log file, report files or the output."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ledger.sandbox import FaultConfig
from ledger.sandbox.testing import sandbox_factory  # noqa: F401 - fixture
from worker_support import LEDGER_BIN, TOKEN, import_users, run_work, work_env


@pytest.mark.slow
def test_token_appears_nowhere(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    _, emails = import_users(ledger_path, tmp_path, 120)
    faults = FaultConfig(p503=0.1, p429=0.05, retry_after=1, preset=0.03, row_errors={emails[5], emails[50]})
    sb = sandbox_factory(token=TOKEN, seed=8, faults=faults)
    code, out = run_work(ledger_path, sb.base_url, "--retry-profile", "fast")
    assert code == 0, out
    wrong = "tok-wrong-but-secret-too-991"
    code2, out2 = run_work(ledger_path, sb.base_url, token=wrong)  # nothing pending: no request, still no leak
    report_dir = tmp_path / "report"
    rep = subprocess.run(
        [str(LEDGER_BIN), "--db", str(ledger_path), "report", "--out", str(report_dir)],
        env=work_env(sb.base_url), capture_output=True, timeout=60,
    )
    assert rep.returncode == 0, rep.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name.endswith(".log") for p in files)  # the log file exists and was checked
    assert any(p.parent == report_dir for p in files)
    assert any(p.name == ledger_path.name for p in files)
    for secret in (TOKEN, wrong):
        needle = secret.encode()
        for p in files:
            assert needle not in p.read_bytes(), f"token found in {p}"
        for text in (out, out2, rep.stdout.decode(), rep.stderr.decode()):
            assert secret not in text
