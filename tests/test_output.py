"""What `ledger work` and `ledger status` print (issue 13, "Counts and output"): summaries that add
up, % done without invalid rows, the final progress line, the dry run's last line, library noise kept
off the terminal. Real ledgers, the real CLI, the real wxc_sdk."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def test_wxc_sdk_enum_warnings_go_to_the_log_file_not_the_terminal(tmp_path: Path) -> None:
    """wxc_sdk logs ``auto enhancing Enum …`` (stdlib logging, WARNING) for every value it does not
    know; without a handler Python prints it on stderr, in the middle of the progress line."""
    code = (
        "import sys; from pathlib import Path\n"
        "from ledger.logsetup import configure_logging\n"
        "configure_logging(Path(sys.argv[1]))\n"
        "from wxc_sdk.people import PhoneNumberType\n"
        "PhoneNumberType('pager_h13')\n"
    )
    db = tmp_path / "ledger.db"
    proc = subprocess.run([sys.executable, "-c", code, str(db)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "auto enhancing Enum" not in proc.stderr
    lines = [json.loads(line) for line in (tmp_path / "ledger.log").read_text().splitlines()]
    assert any("auto enhancing Enum PhoneNumberType" in e["event"] and e["logger"] == "wxc_sdk.base" for e in lines)
