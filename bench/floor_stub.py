"""A floor HTTP server for the bookkeeping bench: answers every request with a fixed JSON body in a few µs.

    .venv/bin/python bench/floor_stub.py            # prints "listening http://127.0.0.1:PORT/v1"

It is not a Webex: it only knows the shapes `user.create` needs (the preflight ``GET /people/me``, a people
lookup or list answering an empty page, a create answering a person). Raw asyncio, HTTP/1.1 keep-alive, no
framework, so its cost per request (~30-60 µs) is far below a millisecond: what a `ledger work` run costs
on top of a bare loop of the same calls is then the ledger's own work, not the server's.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys

_ids = itertools.count(1)


COUNT = {"requests": 0}


def _answer(method: str, path: str) -> bytes:
    if path.startswith("/_count"):
        body: dict = dict(COUNT)
        data = json.dumps(body).encode()
        return b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data
    COUNT["requests"] += 1
    if method == "POST":
        n = next(_ids)
        body = {"id": f"Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mbG9vci0{n:08d}", "emails": ["x@floor.example.com"],
                "displayName": "Ana Puig", "firstName": "Ana", "lastName": "Puig", "orgId": "floor"}
    elif path.startswith("/v1/people/me"):
        body = {"id": "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9tZQ", "emails": ["admin@floor.example.com"], "orgId": "floor"}
    elif path.startswith("/v1/people") or path.startswith("/v1/locations") or path.startswith("/v1/licenses"):
        body = {"items": []}
    else:
        body = {}
    data = json.dumps(body).encode()
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTrackingID: FLOOR\r\nContent-Length: "
            + str(len(data)).encode() + b"\r\n\r\n" + data)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if length:
                await reader.readexactly(length)
            writer.write(_answer(method, path))
    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


async def main() -> None:
    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening http://127.0.0.1:{port}/v1", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
