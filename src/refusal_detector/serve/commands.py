"""``refusal-detector serve``: run the HTTP service on uvicorn.

Flags override ``REFUSAL_DETECTOR_*`` environment variables, which override the ``--config`` YAML
file. Every setting is checked, and the model directory looked at, before anything listens: a
bad setting or model stops the start with ``error: ...`` and exit code 2. FastAPI and uvicorn are
imported inside the handler only.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from refusal_detector.cli_options import add_command, model_parent, positive_int
from refusal_detector.errors import ConfigError, ModelLoadError

__all__ = ["register"]

logger = logging.getLogger(__name__)

_EXIT_OK = 0
_EXIT_USAGE = 2


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``serve`` subcommand to the CLI's subparsers."""
    serve = add_command(
        sub,
        "serve",
        parents=[model_parent()],
        help="run the HTTP service (micro-batched; LLM Guard-compatible routes; playground at /)",
        description=(
            "Serve /v1/classify, /v1/explain, LLM Guard's /analyze/output and /scan/output, "
            "/healthz, /readyz, /metrics and a playground page at /. Every setting may also come "
            "from REFUSAL_DETECTOR_<NAME> in the environment or from the --config YAML file; "
            "flags win, and a flag left out leaves the environment, file or default value "
            "(backend auto, batch size 32). See docs/serving.md for every setting."
        ),
    )
    # No flag default may hide an environment or file setting: the defaults live once, in
    # ServeSettings, and a flag that is not given stays None.
    serve.set_defaults(backend=None, batch_size=None)
    serve.add_argument("--host", default=None, help="interface to listen on (default: 127.0.0.1)")
    serve.add_argument("--port", type=positive_int, default=None, help="TCP port (default: 8000)")
    serve.add_argument(
        "--config", type=Path, default=None, metavar="FILE", help="YAML file of settings"
    )
    serve.add_argument(
        "--max-batch", type=positive_int, default=None, metavar="N",
        help="texts merged from concurrent requests into one batch (default: 64)",
    )  # fmt: skip
    serve.add_argument(
        "--max-wait-ms", type=float, default=None, metavar="MS",
        help="a batch closes when no request joined it for this long (default: 5)",
    )  # fmt: skip
    serve.add_argument(
        "--queue-size", type=positive_int, default=None, metavar="N",
        help="requests that may wait for the model; beyond, 503 (default: 1024)",
    )  # fmt: skip
    serve.add_argument(
        "--request-timeout-s", type=float, default=None, metavar="S",
        help="per-request time limit; beyond, 504 (default: 30)",
    )  # fmt: skip
    serve.add_argument(
        "--log-level",
        choices=("critical", "error", "warning", "info", "debug"),
        default=None,
        help="uvicorn log level (default: info)",
    )
    serve.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from refusal_detector.serve.app import create_app
        from refusal_detector.serve.settings import load_settings
    except ImportError as exc:
        raise ConfigError(
            f"serve needs the serve extra ({exc.name} is missing): "
            'pip install "refusal-detector[serve]"'
        ) from exc
    from refusal_detector.backends import resolve_backend_kind
    from refusal_detector.model_dir import check_model_dir

    flags: dict[str, Any] = {
        name: getattr(args, name)
        for name in (
            "host", "port", "model", "backend", "batch_size", "max_batch", "max_wait_ms",
            "queue_size", "request_timeout_s", "log_level",
        )
    }  # fmt: skip
    settings = load_settings(args.config, **flags)
    model_dir = settings.model_dir()
    try:
        kind = resolve_backend_kind(settings.backend, model_dir)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    check_model_dir(model_dir, backend=kind)
    sock = _listen(settings.host, settings.port)

    failures: list[BaseException] = []
    server: uvicorn.Server | None = None

    def stop_on_failure(exc: BaseException) -> None:
        failures.append(exc)
        if server is not None:
            server.should_exit = True

    app = create_app(settings, on_load_failure=stop_on_failure)
    config = uvicorn.Config(
        app,
        log_level=settings.log_level,
        timeout_graceful_shutdown=int(settings.graceful_timeout_s) or None,
        lifespan="on",
        access_log=False,
    )
    server = uvicorn.Server(config)
    # uvicorn re-raises SIGTERM once it has shut down gracefully, which would end the process with
    # -15; a drained, finished server is a clean exit, so the re-raised signal is ignored.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        server.run(sockets=[sock])
    finally:
        signal.signal(signal.SIGTERM, previous)
    if failures:
        raise ModelLoadError(f"the model failed to load: {failures[0]}")
    if app.state.service.worker.running:
        # Still inside a model call after graceful_timeout_s: its requests have had their answer
        # (504) or their client is gone. Leaving now, without interpreter teardown, keeps
        # onnxruntime's threads from aborting the process on the way out.
        logger.warning("inference still running after graceful_timeout_s; exiting without it")
        sys.stderr.flush()
        os._exit(1)
    return _EXIT_OK


def _listen(host: str, port: int) -> socket.socket:
    # Bound here, not by uvicorn, so that a busy port is a clear error before anything loads.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} ({exc.strerror or exc}); choose another --port "
            "or stop what is using it"
        ) from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    logger.info("listening on http://%s:%d", host, port)
    return sock
