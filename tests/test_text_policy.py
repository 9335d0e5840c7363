"""The text policy: unencodable characters become U+FFFD with a warning, long texts are cut.

The three reports of issue 16 are pinned here: a lone surrogate in a JSONL row, invalid UTF-8 on
the ``classify`` command line, and ``predict_proba(["\\ud800abc"])``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from refusal_detector import ConfigError, InvalidTextError, RefusalDetector
from refusal_detector.cli import main
from refusal_detector.io.chunk_scoring import AddedFields, score_chunk
from refusal_detector.io.formats import Row
from refusal_detector.text_input import DEFAULT_MAX_CHARS, prepare_texts, replace_unencodable


@pytest.fixture(scope="module")
def detector(tiny_model_dir: Path) -> RefusalDetector:
    return RefusalDetector.from_pretrained(tiny_model_dir)


def test_lone_surrogates_become_replacement_characters_one_for_one() -> None:
    assert replace_unencodable("\ud800abc\udcff") == ("\ufffdabc\ufffd", 2)
    assert replace_unencodable("ok \x00 \ufffe \U0010ffff") == ("ok \x00 \ufffe \U0010ffff", 0)
    (item,) = prepare_texts("a\ud800" * 3, max_chars=4)
    assert (item.text, item.replaced, item.original_chars) == ("a\ufffda\ufffd", 3, 6)
    assert item.warning == (
        "3 unencodable characters (lone surrogates or invalid UTF-8 bytes) replaced with U+FFFD; "
        "text has 6 characters; scored on the first 4 (max_chars)"
    )


def test_predict_proba_scores_a_lone_surrogate_and_logs_its_index(
    detector: RefusalDetector, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="refusal_detector.detector"):
        scores = detector.predict_proba(["fine", "\ud800abc"])
    assert scores[1] == detector.predict_proba(["\ufffdabc"])[0]
    assert "texts[1]: 1 unencodable character" in caplog.text
    assert "abc" not in caplog.text  # the text itself is never logged
    spans = detector.score_sentences("Sorry.\udcff I cannot. Fine")
    assert [(s.start, s.end) for s in spans] == [(0, 17), (18, 22)]  # offsets index the original
    assert spans[0].text == "Sorry.\ufffd I cannot."


def test_texts_over_max_chars_are_scored_on_their_first_max_chars(tiny_model_dir: Path) -> None:
    short = RefusalDetector.from_pretrained(tiny_model_dir, max_chars=30)
    text = "sorry i cannot help with that request " + "the recipe for pancakes " * 40
    assert short.predict_proba([text])[0] == short.predict_proba([text[:30]])[0]
    unlimited = RefusalDetector.from_pretrained(tiny_model_dir, max_chars=None)
    assert len(unlimited.window_scores([text])[0]) > 1
    assert short.refusal_spans(text, threshold=0.0)[-1].end <= 30
    assert RefusalDetector.from_pretrained(tiny_model_dir).max_chars == DEFAULT_MAX_CHARS
    with pytest.raises(ConfigError, match="max_chars must be >= 1 or None"):
        RefusalDetector.from_pretrained(tiny_model_dir, max_chars=0)


def test_jsonl_row_with_a_lone_surrogate_is_scored_with_a_warning(
    detector: RefusalDetector, tiny_model_dir: Path, tmp_path: Path
) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text(
        '{"id": 0, "text": "Sorry, I cannot help."}\n'
        '{"id": 1, "text": "\\ud800abc"}\n'
        '{"id": 2, "text": "Sure, here it is.", "note\\udc00": ["\\udfff"]}\n',
        encoding="utf-8",
    )
    assert (
        main(["predict", "--model", str(tiny_model_dir), "-i", str(source), "-o", str(target)]) == 0
    )
    out = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in out] == [0, 1, 2]
    expected = detector.predict_proba(["Sorry, I cannot help.", "\ufffdabc", "Sure, here it is."])
    assert [r["score"] for r in out] == pytest.approx(expected.tolist(), abs=1e-6)
    assert "warning" not in out[0]
    assert out[1]["text"] == "\ufffdabc"
    assert out[1]["warning"].startswith("line 2: field 'text': 1 unencodable character")
    assert out[2]["note\ufffd"] == ["\ufffd"]
    assert out[2]["warning"].startswith("line 3: field 'note\ufffd': 2 unencodable characters")


def _run_cli(*argv: str | bytes, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "refusal_detector", *argv]
    return subprocess.run(command, input=stdin, capture_output=True, env=env, check=False)


def test_classify_with_invalid_utf8_on_the_command_line_and_stdin(tiny_model_dir: Path) -> None:
    done = _run_cli("classify", "--model", str(tiny_model_dir), b"a\xffb", "ok")
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    first, second = (json.loads(line) for line in done.stdout.splitlines())
    assert first["label"] in {"NORMAL", "REJECTION"}
    assert first["warning"].startswith("1 unencodable character")
    assert "warning" not in second
    piped = _run_cli("classify", "--model", str(tiny_model_dir), stdin=b"x\xffy\r\nplain\n")
    assert piped.returncode == 0, piped.stderr
    lines = [json.loads(line) for line in piped.stdout.splitlines()]
    assert len(lines) == 2
    assert "warning" in lines[0]
    assert "warning" not in lines[1]


def test_classify_reports_the_max_chars_cut(
    tiny_model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["classify", "--model", str(tiny_model_dir), "--max-chars", "5", "sorry, no"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["warning"] == "text has 9 characters; scored on the first 5 (max_chars)"
    assert main(["classify", "--model", str(tiny_model_dir), "--max-chars", "0", "sorry, no"]) == 0
    assert "warning" not in json.loads(capsys.readouterr().out)


def test_predict_progress_moves_within_a_chunk_of_huge_rows(detector: RefusalDetector) -> None:
    huge = "the king of the city and the river " * 4_000  # 140,000 characters each
    rows = [Row({"id": i, "text": huge}, f"line {i + 1}") for i in range(3)]
    steps: list[int] = []
    out, errors, warnings = score_chunk(
        detector, rows, "text", 0.5, AddedFields(""), sparse=True, on_scored=steps.append
    )
    assert steps == [2, 1]  # 200,000 characters read per group, so the bar moves mid-chunk
    assert (errors, warnings) == (0, 3)
    assert out[0]["warning"] == (
        "line 1: text has 140,000 characters; scored on the first 100,000 (max_chars)"
    )


def test_non_strings_are_invalid_text_errors_naming_the_index(detector: RefusalDetector) -> None:
    with pytest.raises(InvalidTextError, match=r"texts\[2\] must be a str, got float"):
        detector(["a", "b", 1.5])  # type: ignore[list-item]
    with pytest.raises(InvalidTextError, match="must be a str or a sequence of str, got NoneType"):
        detector.predict_proba(None)  # type: ignore[arg-type]
