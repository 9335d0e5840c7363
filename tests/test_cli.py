"""The command line: classify, info, errors, and a --help that stays torch-free."""

from __future__ import annotations

import io
import json
import os
import re
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


_HEAVY = (
    "numpy",
    "tokenizers",
    "onnxruntime",
    "torch",
    "transformers",
    "pyarrow",
    "fastapi",
    "ray",
    # the labelling functions and adapters (regex tables) load only for the data commands
    "refusal_detector.data.gold_draw",
    "refusal_detector.data.labeling_functions",
)


def test_help_imports_no_heavy_library() -> None:
    script = (
        "import sys\n"
        "from refusal_detector.cli import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {_HEAVY!r} if m in sys.modules))\n"
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


def test_a_folder_without_a_model_says_it_is_not_a_model_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("not a model", encoding="utf-8")
    assert main(["classify", "--model", str(tmp_path), "hi"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path} is not a model directory" in err
    assert "notes.txt" in err
    assert "config.json, tokenizer.json" in err


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize(
    "command",
    [
        ["classify"],
        ["predict"],
        ["train"],
        ["evaluate"],
        ["export"],
        ["card"],
        ["data", "build"],
        ["data", "audit-sample"],
    ],
)
def test_help_states_each_default_once(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    text = _help(command, capsys)
    assert "(default: None)" not in text
    assert not re.search(r"\(default:[^)]*\)\s*\(default:", text)


def test_out_and_data_have_one_name_with_aliases(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text('{"text": "Sorry, I cannot help."}\n', encoding="utf-8")
    for flag in ("--out", "--output", "-o"):
        out = tmp_path / f"out{flag.strip('-')}.jsonl"
        argv = ["predict", "--model", str(tiny_model_dir), "-i", str(source), flag, str(out)]
        assert main([*argv, "--quiet"]) == 0
        assert json.loads(out.read_text(encoding="utf-8"))["label"] in {"NORMAL", "REJECTION"}
    for command in (["train"], ["evaluate"], ["export"], ["data", "audit-sample"]):
        assert "--data PATH, --corpus PATH" in _help(command, capsys) or (
            "--data DIR, --corpus DIR" in _help(command, capsys)
        )
