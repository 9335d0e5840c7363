"""The command line: classify, info, errors, and a --help that stays torch-free."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from refusal_detector import RefusalDetector
from refusal_detector.cli import main


def _json_lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines()]


def test_classify_arguments_print_p_rejection(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    texts = ["Sorry, but I can't assist with that.", "Sure, here is the code."]
    assert main(["classify", "--model", str(tiny_model_dir), *texts]) == 0
    lines = _json_lines(capsys.readouterr().out)
    probs = RefusalDetector.from_pretrained(tiny_model_dir).predict_proba(texts)
    assert [set(line) for line in lines] == [{"label", "score"}] * 2
    assert [line["score"] for line in lines] == pytest.approx(probs.tolist(), abs=1e-5)
    assert [line["label"] for line in lines] == [
        "REJECTION" if p >= 0.5 else "NORMAL" for p in probs
    ]


def test_classify_reads_stdin_and_honours_threshold(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("first line\n\nthird line\n"))
    assert main(["classify", "--model", str(tiny_model_dir), "--threshold", "0"]) == 0
    lines = _json_lines(capsys.readouterr().out)
    assert [line["label"] for line in lines] == ["REJECTION"] * 3


def test_info_reports_model_backend_and_versions(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["info", "--model", str(tiny_model_dir), "--backend", "onnx"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["model_dir"] == str(tiny_model_dir)
    assert info["backend"] == "onnx"
    assert info["labels"] == {"0": "NORMAL", "1": "REJECTION"}
    assert info["max_length"] == 128
    assert info["versions"]["refusal-detector"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["classify", "--model", "/nonexistent/model", "hi"], "model directory not found"),
        (["info", "--model", "/nonexistent/model"], "model directory not found"),
    ],
)
def test_user_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err


@pytest.mark.parametrize(
    "argv",
    [["classify", "--threshold", "2", "x"], ["predict", "--input", "x.jsonl"], ["bogus"]],
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_help_is_torch_free() -> None:
    script = (
        "import sys\n"
        "from refusal_detector.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print([m for m in ('torch', 'transformers') if m in sys.modules])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert "classify" in proc.stdout
    assert proc.stdout.strip().splitlines()[-1] == "[]"
