"""LLM Guard-compatible scanners (refusal_detector.scanner): contract, parity, llm-guard use."""

from __future__ import annotations

import itertools
import subprocess
import sys
from enum import Enum
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_detector import fake_detector

from refusal_detector import RefusalDetector, default_model_dir
from refusal_detector.errors import ConfigError, ModelLoadError
from refusal_detector.scanner import (
    REFUSAL_SUBSTRINGS,
    MatchType,
    NoRefusal,
    NoRefusalLight,
    calculate_risk_score,
)

GARDEN = [
    "Start by choosing a sunny spot that gets at least six hours of direct light each day.",
    "Test the soil first; most vegetables prefer a pH between 6.0 and 7.0.",
    "Raised beds warm up faster in spring and drain better after heavy rain.",
    "Mix two inches of compost into the top layer before you plant anything.",
    "Tomatoes, peppers and basil grow well together and share the same watering needs.",
    "Water deeply twice a week rather than a little every day, so that roots grow down.",
    "Mulch with straw to keep moisture in and weeds out during the hot months.",
    "Rotate crop families each year to keep soil-borne diseases from building up.",
]


def long_answer(n_chars: int = 12_000, *, refusal: str | None = None) -> str:
    """A markdown gardening guide of about ``n_chars`` characters, optionally with ``refusal`` in
    the middle of it."""
    parts: list[str] = []
    sentences = itertools.cycle(GARDEN)
    section = 0
    while sum(len(p) + 2 for p in parts) < n_chars:
        section += 1
        parts.append(f"## Step {section}")
        parts.append(" ".join(next(sentences) for _ in range(3)))
        parts.append("\n".join(f"- {next(sentences)}" for _ in range(2)))
    if refusal is not None:
        parts.insert(len(parts) // 2, refusal)
    return "\n\n".join(parts)


# --- Risk score: llm-guard's formula --------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "threshold", "risk"),
    [
        (0.99, 0.75, 1.0),
        (0.80, 0.75, 0.2),
        (0.76, 0.75, 0.0),
        (0.75, 0.75, 0.0),
        (0.50, 0.75, -0.3),
        (0.0, 0.75, -1.0),
        (0.95, 0.5, 0.9),
        (1.0, 0.5, 1.0),
    ],
)
def test_calculate_risk_score(score: float, threshold: float, risk: float) -> None:
    assert calculate_risk_score(score, threshold) == risk


def test_calculate_risk_score_equals_llm_guards() -> None:
    util = pytest.importorskip("llm_guard.util")
    for score, threshold in itertools.product([i / 100 for i in range(101)], [0.1, 0.5, 0.75, 0.9]):
        assert calculate_risk_score(score, threshold) == util.calculate_risk_score(score, threshold)


# --- NoRefusal contract on a fake backend (REJECTION exactly when "sorry" is in view) ----------

REFUSAL = "I am sorry, I cannot help with that."
ANSWER = "Here are the steps. Mix the flour and eggs. Bake for ten minutes."


@pytest.fixture
def detector() -> RefusalDetector:
    return fake_detector(max_length=16, batch_size=4)


@pytest.mark.parametrize("match_type", ["full", "sentence"])
@pytest.mark.parametrize("output", ["", "   ", "\n\t"])
def test_blank_output_is_valid_with_risk_minus_one(
    detector: RefusalDetector, match_type: str, output: str
) -> None:
    scanner = NoRefusal(model=detector, match_type=match_type)
    assert scanner.scan("prompt", output) == (output, True, -1.0)


@pytest.mark.parametrize("match_type", ["full", "sentence"])
def test_refusal_is_invalid_and_answer_is_valid(detector: RefusalDetector, match_type: str) -> None:
    scanner = NoRefusal(model=detector, match_type=match_type)
    text, valid, risk = scanner.scan("prompt", REFUSAL)
    assert (text, valid) == (REFUSAL, False) and 0.0 < risk <= 1.0
    text, valid, risk = scanner.scan("prompt", ANSWER)
    assert (text, valid) == (ANSWER, True) and -1.0 <= risk <= 0.0


@pytest.mark.parametrize("match_type", ["full", "sentence"])
def test_a_refusal_buried_in_a_12000_character_answer_is_caught(
    detector: RefusalDetector, match_type: str
) -> None:
    clean = long_answer().replace("Test the soil", "Check the soil")  # no "sorry" anywhere
    buried = long_answer(refusal="Sorry, but I can't help with the pesticide part.")
    assert len(buried) >= 12_000
    scanner = NoRefusal(model=detector, match_type=match_type)
    assert scanner.scan("p", buried)[1] is False
    assert scanner.scan("p", clean)[1] is True


def test_sentence_mode_stops_at_the_first_refusing_sentence(detector: RefusalDetector) -> None:
    output = " ".join([REFUSAL] + ["Mix the flour and eggs."] * 100)
    backend = detector.backend
    backend.calls.clear()  # type: ignore[attr-defined]
    _, valid, _ = NoRefusal(model=detector, match_type="sentence").scan("p", output)
    assert valid is False
    assert sum(backend.calls) <= detector.batch_size  # type: ignore[attr-defined]


def test_sentence_mode_reports_the_first_refusing_sentence_not_the_highest() -> None:
    weak = fake_detector(max_length=16)
    weak.backend.margin = 1.5  # type: ignore[attr-defined]  # sigmoid(1.5) = 0.82
    output = f"{ANSWER} {REFUSAL} Sorry, sorry, sorry."  # 0.82 first, then 0.99
    assert NoRefusal(model=weak, match_type="sentence").scan("p", output) == (output, False, 0.3)
    assert NoRefusal(model=weak, match_type="full").scan("p", output) == (output, False, 1.0)


def test_full_mode_windows_a_long_output_that_llm_guard_would_truncate(
    detector: RefusalDetector,
) -> None:
    output = " ".join(["Mix the flour and eggs."] * 60) + " " + REFUSAL
    assert len(detector.window_scores([output])[0]) > 10
    assert NoRefusal(model=detector).scan("p", output)[1] is False


@pytest.mark.parametrize(
    "match_type",
    ["full", "sentence", MatchType.FULL, Enum("Other", {"SENTENCE": "sentence"}).SENTENCE],
)
def test_match_type_accepts_strings_and_enums(
    detector: RefusalDetector, match_type: object
) -> None:
    NoRefusal(model=detector, match_type=match_type)  # type: ignore[arg-type]


def test_match_type_and_threshold_are_validated(detector: RefusalDetector) -> None:
    with pytest.raises(ConfigError, match="match_type must be one of 'sentence', 'full'"):
        NoRefusal(model=detector, match_type="word")
    for threshold in (0.0, 1.0, 1.5):
        with pytest.raises(ConfigError, match=r"threshold must be in \(0, 1\)"):
            NoRefusal(model=detector, threshold=threshold)


def test_threshold_is_keyword_only(detector: RefusalDetector) -> None:
    with pytest.raises(TypeError):
        NoRefusal(detector, 0.5)  # type: ignore[misc]


# --- Loading a model directory --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("use_onnx", "backend"), [(None, "onnx"), (True, "onnx"), (False, "torch")]
)
def test_model_directory_and_backend_choice(
    tiny_model_dir: Path, use_onnx: bool | None, backend: str
) -> None:
    scanner = NoRefusal(model=tiny_model_dir, use_onnx=use_onnx)
    assert scanner.detector.backend_name == backend
    assert scanner.detector.model_dir == tiny_model_dir


def test_model_spec_with_a_path_attribute(tiny_model_dir: Path) -> None:
    spec = SimpleNamespace(path=str(tiny_model_dir), onnx_path=str(tiny_model_dir))
    assert NoRefusal(model=spec, use_onnx=True).detector.model_dir == tiny_model_dir


def test_a_hub_id_is_refused_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"not a local model directory.*--local-dir"):
        NoRefusal(model="ProtectAI/distilroberta-base-rejection-v1")


def test_the_onnx_scanner_never_imports_torch(tiny_model_dir: Path) -> None:
    code = (
        "import sys\n"
        "from refusal_detector.scanner import NoRefusal\n"
        f"scanner = NoRefusal(model={str(tiny_model_dir)!r}, use_onnx=True, "
        "match_type='sentence')\n"
        "scanner.scan('p', 'Sorry. I cannot help with that.')\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --- NoRefusalLight -------------------------------------------------------------------------------

LIGHT_CASES = [
    "I'm sorry, but I can't assist with that.",
    "AS AN AI language model, I have no opinions.",
    "I do not know the answer.",
    "Here is a recipe: mix flour and eggs.",
    "",
    "That would be unethical.",
]


@pytest.mark.parametrize("output", LIGHT_CASES)
def test_no_refusal_light(output: str) -> None:
    lowered = output.lower()
    expected = (output, True, -1.0)
    if any(s.lower() in lowered for s in REFUSAL_SUBSTRINGS):
        expected = (output, False, 1.0)
    assert NoRefusalLight().scan("p", output) == expected
    assert len(REFUSAL_SUBSTRINGS) == 28


def test_no_refusal_light_matches_llm_guard() -> None:
    no_refusal = pytest.importorskip("llm_guard.output_scanners.no_refusal")
    upstream = no_refusal.NoRefusalLight()
    assert list(REFUSAL_SUBSTRINGS) == upstream._scanner._substrings
    for output in LIGHT_CASES:
        assert NoRefusalLight().scan("p", output) == upstream.scan("p", output)


# --- llm-guard integration (skipped when llm-guard is not installed) ------------------------------

SHORT_OUTPUTS = [
    "sorry i can't help with that",
    "here is a recipe for pancakes: mix flour and eggs",
    "hello there friend",
    "as an ai language model i cannot provide that",
]


def test_scanners_run_inside_llm_guard_scan_output(tiny_model_dir: Path) -> None:
    llm_guard = pytest.importorskip("llm_guard")
    scanners = [NoRefusal(model=tiny_model_dir, threshold=0.5), NoRefusalLight()]
    output = "I'm sorry, I can't help with that."
    sanitized, valid, scores = llm_guard.scan_output(scanners, "prompt", output)
    assert sanitized == output
    assert set(valid) == set(scores) == {"NoRefusal", "NoRefusalLight"}
    assert valid["NoRefusalLight"] is False and scores["NoRefusalLight"] == 1.0
    assert isinstance(valid["NoRefusal"], bool) and -1.0 <= scores["NoRefusal"] <= 1.0


@pytest.mark.parametrize("use_onnx", [True, False])
def test_llm_guards_own_no_refusal_loads_our_directory_and_agrees(
    tiny_model_dir: Path, use_onnx: bool
) -> None:
    """The documented recipe: llm-guard's NoRefusal(model=Model(path=dir, onnx_path=dir,
    onnx_subfolder="onnx"), use_onnx=True) gives the same verdicts as ours on short outputs."""
    pytest.importorskip("llm_guard")
    from llm_guard.model import Model
    from llm_guard.output_scanners import NoRefusal as UpstreamNoRefusal

    ours = RefusalDetector.from_pretrained(tiny_model_dir, backend="onnx" if use_onnx else "torch")
    scores = ours.predict_proba(SHORT_OUTPUTS)
    # thresholds between the tiny model's scores, so both verdicts occur
    thresholds = sorted({round(float(s), 2) - 0.005 for s in scores} | {0.5})
    model = Model(path=str(tiny_model_dir), onnx_path=str(tiny_model_dir), onnx_subfolder="onnx")
    for threshold in thresholds:
        upstream = UpstreamNoRefusal(model=model, threshold=threshold, use_onnx=use_onnx)
        mine = NoRefusal(model=ours, threshold=threshold)
        for output in SHORT_OUTPUTS:
            assert mine.scan("p", output) == upstream.scan("p", output), (threshold, output)


# --- The shipped default model (skipped until it is installed) ------------------------------------

shipped = pytest.mark.skipif(
    not (default_model_dir() / "config.json").is_file(),
    reason=f"the shipped default model is not installed at {default_model_dir()}",
)

CLEAR_REFUSALS = [
    "I'm sorry, but I can't help with that request.",
    "As an AI language model, I cannot provide instructions for making weapons.",
    "I cannot fulfill this request. It is not appropriate to create content that promotes "
    "violence. Instead, I encourage you to seek out peaceful ways to resolve conflicts.",
]
CLEAR_ANSWERS = [
    "Sure! Here is a simple pancake recipe: mix 1 cup flour, 1 egg and 1 cup milk, then fry.",
    "The capital of France is Paris.",
    "def add(a, b):\n    return a + b",
]


@pytest.fixture(scope="module")
def shipped_full() -> NoRefusal:
    if not (default_model_dir() / "config.json").is_file():
        pytest.skip(f"the shipped default model is not installed at {default_model_dir()}")
    return NoRefusal()


@shipped
@pytest.mark.parametrize("output", ["", "  \n "])
def test_shipped_blank_output(shipped_full: NoRefusal, output: str) -> None:
    assert shipped_full.scan("prompt", output) == (output, True, -1.0)


@shipped
@pytest.mark.parametrize("output", CLEAR_REFUSALS)
def test_shipped_clear_refusal_is_invalid(shipped_full: NoRefusal, output: str) -> None:
    _, valid, risk = shipped_full.scan("prompt", output)
    assert valid is False and 0.0 < risk <= 1.0


@shipped
@pytest.mark.parametrize("output", CLEAR_ANSWERS)
def test_shipped_normal_answer_is_valid(shipped_full: NoRefusal, output: str) -> None:
    _, valid, risk = shipped_full.scan("prompt", output)
    assert valid is True and -1.0 <= risk <= 0.0


@shipped
@pytest.mark.parametrize("match_type", ["full", "sentence"])
def test_shipped_catches_a_refusal_buried_in_a_12000_character_answer(
    shipped_full: NoRefusal, match_type: str
) -> None:
    refusal = "I'm sorry, but I can't help with that part of your request."
    buried = long_answer(refusal=refusal)
    assert len(buried) >= 12_000
    scanner = (
        shipped_full
        if match_type == "full"
        else NoRefusal(model=shipped_full.detector, match_type="sentence")
    )
    _, valid, risk = scanner.scan("prompt", buried)
    assert valid is False and 0.0 < risk <= 1.0
    assert scanner.scan("prompt", long_answer())[1] is True
    spans = shipped_full.detector.refusal_spans(buried)
    assert refusal in [s.text for s in spans]


@shipped
def test_shipped_directory_works_in_llm_guards_own_no_refusal() -> None:
    pytest.importorskip("llm_guard")
    from llm_guard.model import Model
    from llm_guard.output_scanners import NoRefusal as UpstreamNoRefusal

    path = str(default_model_dir())
    scanner = UpstreamNoRefusal(
        model=Model(path=path, onnx_path=path, onnx_subfolder="onnx"), use_onnx=True
    )
    assert scanner.scan("p", CLEAR_REFUSALS[0])[1] is False
    assert scanner.scan("p", CLEAR_ANSWERS[0])[1] is True
