"""A real uvicorn server on a free loopback port, in a thread, for the service tests."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def live_server(app: Any, *, ready_timeout: float = 120.0) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1:<free port> until the block ends; yields the base URL.

    Waits until ``/readyz`` answers 200 (model loaded and warmed up) before yielding.
    """
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=10)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, ready_timeout)
        yield url
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def wait_ready(url: str, timeout: float = 120.0) -> None:
    """Poll ``url/readyz`` until it answers 200; raise with its last answer on failure."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=5) as response:
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"{exc.code} {exc.read().decode(errors='replace')}"
            if b"failed" in last.encode():
                break
        except OSError as exc:
            last = str(exc)
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not become ready: {last}")


def call(
    url: str, path: str, body: Any = None, *, raw: bytes | None = None, headers: Any = None
) -> tuple[int, Any, dict[str, str]]:
    """POST ``body`` as JSON (or ``raw`` bytes), or GET when both are None.

    Returns (status, parsed JSON or text, headers with lowercase names).
    """
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(
        f"{url}{path}", data=data, method="GET" if data is None else "POST"
    )
    if data is not None:
        request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status, payload, got = response.status, response.read(), _lower(response.headers)
    except urllib.error.HTTPError as exc:
        status, payload, got = exc.code, exc.read(), _lower(exc.headers)
    try:
        parsed = json.loads(payload)
    except ValueError:
        parsed = payload.decode(errors="replace")
    return status, parsed, got


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}
