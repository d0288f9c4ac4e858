"""`Sandbox`: the fake Webex API running on 127.0.0.1 in a background thread; `serve()` for the CLI."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import threading
import time
from pathlib import Path
from typing import Any, Callable

from aiohttp import web

from .app import RequestLog, RequestRecord, build_app
from .faults import FaultConfig, FaultEngine
from .state import SandboxState


class Sandbox:
    """A local, stateful, fault-injecting Webex API server.

    >>> with Sandbox(token="t", seed=1) as sb:
    ...     sb.base_url  # 'http://127.0.0.1:PORT/v1'
    """

    def __init__(
        self,
        token: str = "test-token",
        faults: FaultConfig | None = None,
        latency_ms: float = 0,
        seed: int | None = None,
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        state: SandboxState | None = None,
        state_file: str | Path | None = None,
        seed_defaults: bool = False,
        strict: bool = True,
    ):
        self.token = token
        # strict: refuse requests that break the Webex contract (ledger/sandbox/contract.json) with a 400
        self.strict = strict
        self.faults = faults if faults is not None else FaultConfig()
        if latency_ms:
            self.faults.latency_ms = float(latency_ms)
        self.seed = seed
        self.host = host
        self.port = port
        self.state = state if state is not None else SandboxState(seed=seed)
        if seed_defaults:
            self.state.seed_defaults()
        self.state_file = Path(state_file) if state_file else None
        self.engine = FaultEngine(seed)
        self.log = RequestLog()
        self.stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def scim_url(self) -> str:
        return f"{self.root_url}/identity/scim"

    def start(self) -> "Sandbox":
        if self._thread is not None:
            return self
        self._thread = threading.Thread(target=self._run, name=f"sandbox-{id(self):x}", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("sandbox did not start within 10 s")
        if self._error is not None:
            raise RuntimeError(f"sandbox failed to start: {self._error}") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._startup())
        except BaseException as e:  # pragma: no cover - bind errors
            self._error = e
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in pending:
                    t.cancel()
                if pending:
                    loop.run_until_complete(asyncio.wait(pending, timeout=1))
            finally:
                loop.close()

    async def _startup(self) -> None:
        self.stopping = asyncio.Event()
        app = build_app(self)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        sockets = getattr(site._server, "sockets", None) or []
        if sockets:
            self.port = sockets[0].getsockname()[1]
        self.engine.started = time.monotonic()

    async def _shutdown(self) -> None:
        if self.stopping is not None:
            self.stopping.set()
        if self._runner is not None:
            try:
                await asyncio.wait_for(self._runner.cleanup(), timeout=3)
            except (asyncio.TimeoutError, Exception):
                pass

    def stop(self, timeout: float = 5.0) -> None:
        """Stop promptly (hung requests are dropped) and write the state file if configured."""
        if self._thread is None or self._loop is None:
            return
        loop = self._loop
        if loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
            try:
                fut.result(timeout)
            except Exception:
                pass
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join(timeout)
        self._thread = None
        if self.state_file is not None:
            self.write_state_file(self.state_file)

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers
    def requests(self) -> list[RequestRecord]:
        return self.log.snapshot()

    def reset(self, defaults: bool = False) -> None:
        self.state = SandboxState(seed=self.seed)
        if defaults:
            self.state.seed_defaults()
        self.log.clear()
        started = self.engine.started
        self.engine = FaultEngine(self.seed)
        self.engine.started = started

    def retry_after_violations(self, grace_s: float = 0.05) -> list[RequestRecord]:
        """Requests that arrived while a pause opened by an earlier 429/423 answer was running.

        A 429/423 answered at time A with Retry-After R opens the window (A + grace_s, A + R): any request of
        any client arriving in it is a violation (the pause is run-wide)."""
        recs = self.requests()
        windows = [(r.t_end, r.t_end + r.retry_after) for r in recs
                   if r.status in (429, 423) and r.retry_after and r.t_end is not None]
        out = []
        for r in recs:
            for a, b in windows:
                if a + grace_s < r.t < b:
                    out.append(r)
                    break
        return out

    def write_state_file(self, path: str | Path) -> None:
        data = {"state": self.state.dump(), "requests": [r.to_dict() for r in self.requests()],
                "faults": self.faults.to_dict()}
        Path(path).write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")

    def __repr__(self) -> str:  # never show the token
        return f"<Sandbox {self.root_url} running={self._thread is not None}>"


def serve(
    port: int = 0,
    faults_spec: str | None = None,
    latency_ms: float = 0,
    seed: int | None = None,
    state_file: str | Path | None = None,
    token: str | None = None,
    seed_samples_dir: str | Path | None = None,
    print_fn: Callable[[str], Any] = print,
    host: str = "127.0.0.1",
    _stop_event: threading.Event | None = None,
) -> int:
    """Run the sandbox in the foreground until SIGINT/SIGTERM. Returns 0."""
    faults = FaultConfig.parse(faults_spec)
    token = token or secrets.token_urlsafe(24)
    sb = Sandbox(token=token, faults=faults, latency_ms=latency_ms, seed=seed, port=port, host=host,
                 state_file=state_file, seed_defaults=True)
    if seed_samples_dir:
        d = Path(seed_samples_dir)

        def find(name: str) -> Path | None:
            for p in d.iterdir():
                if p.name.lower() == name.lower():
                    return p
            return None

        sb.state.seed_from_samples(find("Ubicaciones.csv"), find("Usuarios.csv"), find("global.csv"),
                                   calling_enabled=False)
    stop = _stop_event or threading.Event()
    old = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, lambda *_: stop.set())
    sb.start()
    print_fn(f"sandbox listening: WEBEX_BASE_URL={sb.base_url} WEBEX_ACCESS_TOKEN={token} "
             f"(org {sb.state.org_id})")
    try:
        while not stop.wait(0.2):
            pass
    finally:
        sb.stop()
        for sig, h in old.items():
            signal.signal(sig, h)
        if state_file:
            print_fn(f"sandbox state written to {state_file}")
    return 0
