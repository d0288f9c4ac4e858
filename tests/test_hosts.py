"""Every request goes to the configured host only; the client bounds every call in time."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ledger.actions.webex_errors import translate
from ledger.actions.client import ForeignHostError, make_api
from ledger.errors import SystemicFailure, TransientFailure
from ledger.sandbox.testing import sandbox_factory  # noqa: F401 - fixture
from worker_support import TOKEN, import_users, run_work


def test_client_refuses_any_other_host_and_rewrites_sdk_urls(sandbox_factory) -> None:  # noqa: F811
    sb = sandbox_factory(token=TOKEN, seed=1)
    api = make_api(TOKEN, sb.base_url)
    list(api.people.list(email="nobody@lab.example.com"))
    api.session.rest_get("https://webexapis.com/v1/people", params={"email": "x@lab.example.com"})
    list(api.scim.users.search(org_id=sb.state.org_id, filter='userName eq "x@lab.example.com"').resources or [])
    paths = [r.path for r in sb.requests()]
    assert paths[0] == "/v1/people" and paths[1] == "/v1/people"
    assert paths[2].startswith("/identity/scim/")  # SCIM, hard-coded to webexapis.com in the SDK, came here
    for url in ("https://evil.example.com/v1/people", "http://127.0.0.2:1/v1/people", f"https://{sb.host}:{sb.port}/v1/people"):
        with pytest.raises(ForeignHostError) as exc:
            api.session.rest_get(url)
        assert isinstance(translate(exc.value, "list people"), SystemicFailure)
    assert len(sb.requests()) == 3  # the refused ones never left the process


def test_make_api_with_a_foreign_base_url_sends_nothing_elsewhere() -> None:
    api = make_api(TOKEN, "http://127.0.0.1:9/v1", timeout=(0.5, 0.5))
    with pytest.raises(ForeignHostError):
        api.session.rest_get("http://localhost:9/v1/people")  # same machine, other host name: refused
    with pytest.raises(requests.ConnectionError):
        api.session.rest_get("https://webexapis.com/v1/people")  # rewritten to the (closed) configured port


@pytest.mark.slow
def test_ledger_work_talks_only_to_the_configured_host(ledger_path: Path, tmp_path: Path, sandbox_factory) -> None:  # noqa: F811
    sb = sandbox_factory(token=TOKEN, seed=1)
    other = sandbox_factory(token=TOKEN, seed=1)  # a second server that must never be called
    import_users(ledger_path, tmp_path, 30)
    code, out = run_work(ledger_path, sb.base_url)
    assert code == 0, out
    assert len(sb.requests()) > 30 and other.requests() == []  # 30 creates, their reads, the preflight check


# --- the whole-call time bound -------------------------------------------------------------------


@pytest.fixture
def trickling_server() -> Iterator[str]:
    """Answers headers at once, then one body byte every 0.3 s for ~60 s (each read is quick)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            body_len = 200
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {body_len}\r\n\r\n".encode()
            )
            for _ in range(body_len):
                if stop.wait(0.3):
                    return
                try:
                    conn.sendall(b" ")
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}/v1"
    stop.set()
    srv.close()


def test_a_trickling_server_is_cut_at_the_whole_call_bound(trickling_server: str) -> None:
    api = make_api(TOKEN, trickling_server, timeout=(1.0, 1.0, 2.0))
    with pytest.raises(requests.Timeout, match="no complete answer within 2s") as exc:
        api.session.rest_get(trickling_server + "/people")
    err = translate(exc.value, "list people")
    assert isinstance(err, TransientFailure) and err.code == "timeout"


def test_a_hung_server_becomes_a_transient_failure(sandbox_factory) -> None:  # noqa: F811
    from ledger.sandbox import FaultConfig

    sb = sandbox_factory(token=TOKEN, seed=1, faults=FaultConfig(phang=1.0, hang_seconds=30))
    api = make_api(TOKEN, sb.base_url, timeout=(1.0, 0.5, 5.0))
    with pytest.raises(requests.Timeout) as exc:
        list(api.people.list(email="a@lab.example.com"))
    assert isinstance(translate(exc.value, "list people"), TransientFailure)
