"""Shared helpers for the benchmarks: a sandbox in its own process, whole-process `ledger` runs, timing,
the sandbox's request log, generated CSV files (peak RSS: see import_bench.measure).

Every measurement talks to 127.0.0.1 only. `ledger` runs as a real subprocess of ``.venv/bin/ledger``
(the operator's command, start-up included) unless a bench says otherwise.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
LEDGER = BIN / "ledger"
PYTHON = BIN / "python"
TOKEN = "bench-token-0123456789abcdef"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def compile_bytecode() -> None:
    """Write the bytecode of the ledger's own modules and migrations before measuring. An installed ledger
    has it (pip compiles at install time); a checkout run with ``PYTHONDONTWRITEBYTECODE=1`` (set on the
    bench machine) would otherwise compile ~50 modules from source in every `ledger` process (~45 ms each)."""
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", str(ROOT / "ledger"), str(ROOT / "migrations")],
                   check=True, stdout=subprocess.DEVNULL)


def machine() -> dict[str, Any]:
    """nproc, CPU model and Python version, for the results and the README."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "python": sys.version.split()[0]}


@dataclass
class SandboxProc:
    """`ledger sandbox` in its own process (so its CPU does not share our GIL)."""

    faults: str = ""
    latency_ms: float = 0.0
    proc: subprocess.Popen[str] | None = None
    base_url: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def __enter__(self) -> SandboxProc:
        cmd = [str(LEDGER), "sandbox", "--port", "0", "--token", TOKEN, "--seed", "1"]
        if self.faults:
            cmd += ["--faults", self.faults]
        if self.latency_ms:
            cmd += ["--latency", str(self.latency_ms)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        m = re.search(r"WEBEX_BASE_URL=(\S+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"sandbox did not start: {line!r}")
        self.base_url = m.group(1)
        self.env = {**os.environ, "WEBEX_ACCESS_TOKEN": TOKEN, "WEBEX_BASE_URL": self.base_url}
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    @property
    def root_url(self) -> str:
        return self.base_url.rsplit("/v1", 1)[0]

    def requests(self) -> list[dict[str, Any]]:
        """The sandbox's request log (every /v1 and /identity request: t, method, path, status, fault …)."""
        with urllib.request.urlopen(self.root_url + "/_admin/requests", timeout=60) as resp:
            return json.loads(resp.read())


@dataclass
class Timed:
    wall: float
    rc: int
    stdout: str
    stderr: str


def run(cmd: list[str], env: dict[str, str] | None = None, check: bool = True) -> Timed:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if check and res.returncode != 0:
        raise RuntimeError(f"failed ({res.returncode}): {' '.join(cmd)}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return Timed(wall, res.returncode, res.stdout, res.stderr)


def ledger_import(db: Path, csv_path: Path, action: str, env: dict[str, str] | None = None) -> Timed:
    return run([str(LEDGER), "--db", str(db), "import", str(csv_path), "--action", action], env=env)


def ledger_work(db: Path, env: dict[str, str], *args: str, rows: int | None = None) -> Timed:
    """Whole-process `ledger work`; fails loudly unless it exits 0 and, given ``rows``, unless its
    summary says all of them succeeded."""
    done = run([str(LEDGER), "--db", str(db), "work", *args], env=env)
    if rows is not None and f"{rows} succeeded" not in done.stdout:
        raise RuntimeError(f"ledger work {' '.join(args)}: not every row succeeded:\n{done.stdout[-2000:]}")
    return done


def sandbox_ids(sb: SandboxProc) -> dict[str, str]:
    """The sandbox's org id and its Calling Professional licence id (from its default dataset)."""
    with urllib.request.urlopen(sb.root_url + "/_admin/state", timeout=60) as resp:
        state = json.loads(resp.read())
    lic = next(x["id"] for x in state["licenses"] if x.get("_sku") == "BCSTD")
    return {"org_id": state["orgId"], "license_id": lic}


def calling_users_csv(sb: SandboxProc, path: Path, rows: int, domain: str) -> list[str]:
    """Usuarios.csv layout (samplegen) with a Calling licence and the sandbox location SANDBOX-HQ:
    user.create then costs about 1 request per row (the create; ten lookups and one list of the org's
    people per run: batched reads) plus one list of the locations per run. The sandbox holds 1,000 units of the licence: keep rows below that."""
    from ledger.demo.samplegen import write_users_csv

    return write_users_csv(path, rows, domain=domain, license_id=sandbox_ids(sb)["license_id"],
                           location_name="SANDBOX-HQ")
