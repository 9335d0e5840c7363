"""``refusal-detector serve``: settings from flags, environment and YAML; real server processes."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

from live_server import call, wait_ready

from refusal_detector.cli import main
from refusal_detector.errors import ConfigError
from refusal_detector.serve import load_settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_flags_beat_environment_beat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "serve.yaml"
    config.write_text("port: 9001\nmax_batch: 8\nqueue_size: 10\n", encoding="utf-8")
    monkeypatch.setenv("REFUSAL_DETECTOR_MAX_BATCH", "16")
    monkeypatch.setenv("REFUSAL_DETECTOR_QUEUE_SIZE", "20")
    settings = load_settings(config, queue_size=30, port=None)
    assert (settings.port, settings.max_batch, settings.queue_size) == (9001, 16, 30)
    assert load_settings().max_text_chars == 100_000


@pytest.mark.parametrize(
    ("yaml_text", "flags", "message"),
    [
        ("port: 70000\n", {}, r"port \(--port / REFUSAL_DETECTOR_PORT / port in .*\): .*65535"),
        ("prot: 8000\n", {}, r"prot: unknown setting in .*; known settings: host, port"),
        ("port: [1\n", {}, r"not valid YAML"),
        ("- port\n", {}, r"expected a mapping of settings"),
        ("", {"max_wait_ms": -1.0}, r"max_wait_ms .*greater than or equal to 0"),
        ("", {"backend": "tensorflow"}, r"backend .*'auto', 'onnx' or 'torch'"),
        ("", {"api_token": "  "}, r"api_token must not be empty"),
    ],
)
def test_bad_settings_are_named(
    tmp_path: Path, yaml_text: str, flags: dict[str, object], message: str
) -> None:
    config = tmp_path / "serve.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_settings(config, **flags)


def test_a_bad_setting_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("REFUSAL_DETECTOR_REQUEST_TIMEOUT_S", "soon")
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid service settings")
    assert "request_timeout_s (--request-timeout-s / REFUSAL_DETECTOR_REQUEST_TIMEOUT_S)" in err
    monkeypatch.delenv("REFUSAL_DETECTOR_REQUEST_TIMEOUT_S")
    assert main(["serve", "--model", str(tmp_path / "missing")]) == 2
    assert "model directory not found" in capsys.readouterr().err
    assert main(["serve", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read the config file" in capsys.readouterr().err


def test_a_busy_port_stops_the_start(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--model", str(tiny_model_dir), "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def _serve(*args: str, **env_settings: str) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **env_settings}
    process = subprocess.Popen(
        [sys.executable, "-m", "refusal_detector", "serve", "--port", str(port), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    return process, f"http://127.0.0.1:{port}"


def test_default_server_verdicts_and_graceful_sigterm() -> None:
    """The shipped model with default settings: right verdicts, and SIGTERM lets requests finish.

    Only the time limits are raised (through the environment), so that a busy CI machine cannot
    turn the in-flight request into a 504 or a cut-off shutdown.
    """
    process, url = _serve(
        REFUSAL_DETECTOR_REQUEST_TIMEOUT_S="600", REFUSAL_DETECTOR_GRACEFUL_TIMEOUT_S="600"
    )
    try:
        wait_ready(url, timeout=180)
        texts = [
            "I'm sorry, but I can't help with that request.",
            "Sure! Preheat the oven to 180 C, mix flour, sugar and eggs, and bake for 25 minutes.",
        ]
        status, body, _ = call(url, "/v1/classify", {"texts": texts})
        assert status == 200
        assert [r["label"] for r in body] == ["REJECTION", "NORMAL"]
        status, body, _ = call(url, "/scan/output", {"prompt": "q", "output": texts[0]})
        assert status == 200 and body["is_valid"] is False and body["scanners"]["NoRefusal"] > 0
        status, body, _ = call(url, "/scan/output", {"prompt": "q", "output": texts[1]})
        assert status == 200 and body["is_valid"] is True and body["scanners"]["NoRefusal"] <= 0

        long_text = " ".join([texts[1]] * 40)  # about 12 windows each
        answers: list[tuple[int, object]] = []
        request = threading.Thread(
            target=lambda: answers.append(
                call(url, "/v1/classify", {"texts": [long_text, long_text]})[:2]
            )
        )
        request.start()
        _wait_in_flight(url)
        process.send_signal(signal.SIGTERM)
        request.join(600)
        output, _ = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert answers and answers[0][0] == 200, output
    assert [r["label"] for r in answers[0][1]] == ["NORMAL", "NORMAL"]  # type: ignore[union-attr]
    assert process.returncode == 0, output
    assert "Finished server process" in output


def _wait_in_flight(url: str) -> None:
    # The /metrics request itself is one in-flight request; the long classify is the other.
    for _ in range(400):
        _, text, _ = call(url, "/metrics")
        line = next(x for x in text.splitlines() if x.startswith("refusal_detector_requests_in"))
        if float(line.split()[-1]) >= 2:
            return
        threading.Event().wait(0.01)
    raise AssertionError("the long request never became in-flight")


def test_a_model_that_fails_to_load_stops_the_server(tiny_model_factory) -> None:  # type: ignore[no-untyped-def]
    model = tiny_model_factory()
    (model / "onnx" / "model.onnx").write_bytes(b"\x08\x01" * 600)  # passes the size check only
    process, _ = _serve("--model", str(model))
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 2, output
    assert "error: the model failed to load" in output
