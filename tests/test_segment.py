"""Sentence splitting and token windows (refusal_detector.segment)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fake_detector import fake_detector, fake_tokenizer
from hypothesis import given, settings
from hypothesis import strategies as st

from refusal_detector.errors import ConfigError
from refusal_detector.segment import TokenWindower, pack_sentences, plan_windows, split_sentences


def texts(text: str) -> list[str]:
    return [s.text for s in split_sentences(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm sorry. I can't help with that!", ["I'm sorry.", "I can't help with that!"]),
        ("Really? Yes.", ["Really?", "Yes."]),
        ("Ask Dr. Smith, e.g. at noon. Then go.", ["Ask Dr. Smith, e.g. at noon.", "Then go."]),
        (
            "Mr. and Mrs. Lee met Prof. Kim vs. Ms. Park.",
            ["Mr. and Mrs. Lee met Prof. Kim vs. Ms. Park."],
        ),
        ("J. K. Rowling lives in the U.K. now.", ["J. K. Rowling lives in the U.K. now."]),
        ("Pi is 3.14 and e is 2.72. Next.", ["Pi is 3.14 and e is 2.72.", "Next."]),
        ("Wait... what? Ok... Fine.", ["Wait... what?", "Ok...", "Fine."]),
        ("See No. 5 here. It is fine.", ["See No. 5 here.", "It is fine."]),
        ('He said "Stop." Then left.', ['He said "Stop."', "Then left."]),
        ("Meet at 3 p.m. today. Bring snacks.", ["Meet at 3 p.m. today.", "Bring snacks."]),
        ("Visit example.com. It helps.", ["Visit example.com.", "It helps."]),
        ("\u8fd9\u662f\u3002\u7b2c\u4e8c\uff01", ["\u8fd9\u662f\u3002", "\u7b2c\u4e8c\uff01"]),
        ("no punctuation at all", ["no punctuation at all"]),
        ("   \n\t ", []),
        ("", []),
    ],
)
def test_split_sentences_prose(text: str, expected: list[str]) -> None:
    assert texts(text) == expected


def test_markdown_structure_starts_new_pieces() -> None:
    text = (
        "# Pancakes\n"
        "Here is the recipe:\n"
        "1. Mix flour and eggs\n"
        "2. Fry for 2 minutes. Flip once.\n"
        "- serve warm\n"
        "  with syrup\n"
        "* enjoy\n"
        "> Note. Keep it hot\n"
        "| step | time |\n"
        "|------|------|\n"
        "---\n"
        "Done"
    )
    assert texts(text) == [
        "# Pancakes",
        "Here is the recipe:",
        "1. Mix flour and eggs",
        "2. Fry for 2 minutes.",
        "Flip once.",
        "- serve warm\n  with syrup",
        "* enjoy",
        "> Note.",
        "Keep it hot",
        "| step | time |",
        "|------|------|",
        "---",
        "Done",
    ]


def test_fenced_code_block_is_one_piece() -> None:
    code = "```python\nx = 1. \nprint('Hi. There!')\n\nreturn x\n```"
    text = f"Here you go.\n\n{code}\nI'm sorry, but that is all."
    assert texts(text) == ["Here you go.", code, "I'm sorry, but that is all."]


def test_unclosed_fence_runs_to_end() -> None:
    text = "Code:\n~~~\nA. B. C.\n\nD."
    assert texts(text) == ["Code:", "~~~\nA. B. C.\n\nD."]


def test_soft_wrapped_lines_stay_one_sentence() -> None:
    text = "I'm sorry, but I\ncannot help with\nthat request. Sure thing."
    assert texts(text) == ["I'm sorry, but I\ncannot help with\nthat request.", "Sure thing."]


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("ab .!?\n\t-#>|`~:1)\"'Ié。")) | st.characters(),
        max_size=200,
    )
)
def test_sentences_are_ordered_trimmed_and_cover_every_visible_character(text: str) -> None:
    sentences = split_sentences(text)
    covered = set()
    previous_end = 0
    for s in sentences:
        assert text[s.start : s.end] == s.text
        assert s.text and s.text == s.text.strip()
        assert s.start >= previous_end
        previous_end = s.end
        covered.update(range(s.start, s.end))
    visible = {i for i, ch in enumerate(text) if not ch.isspace()}
    assert visible <= covered


def test_splitting_never_imports_nltk_or_downloads() -> None:
    code = (
        "import sys, socket\n"
        "socket.socket = None\n"
        "from refusal_detector.segment import split_sentences\n"
        "assert len(split_sentences('A b. C d.')) == 2\n"
        "assert 'nltk' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("n", "size", "stride", "expected"),
    [
        (0, 4, 2, [(0, 0)]),
        (3, 4, 2, [(0, 3)]),
        (4, 4, 2, [(0, 4)]),
        (5, 4, 2, [(0, 4), (1, 5)]),
        (10, 4, 2, [(0, 4), (2, 6), (4, 8), (6, 10)]),
        (11, 4, 4, [(0, 4), (4, 8), (7, 11)]),
        (6, 4, 1, [(0, 4), (1, 5), (2, 6)]),
    ],
)
def test_plan_windows(n: int, size: int, stride: int, expected: list[tuple[int, int]]) -> None:
    assert plan_windows(n, size=size, stride=stride) == expected


@given(st.integers(0, 500), st.integers(1, 64), st.data())
def test_windows_are_full_cover_every_token_and_overlap_by_size_minus_stride(
    n: int, size: int, data: st.DataObject
) -> None:
    stride = data.draw(st.integers(1, size))
    windows = plan_windows(n, size=size, stride=stride)
    covered = set()
    for start, end in windows:
        assert end - start == min(size, n)
        covered.update(range(start, end))
    assert covered == set(range(n))
    for (s1, _), (s2, _) in itertools.pairwise(windows):
        assert 0 < s2 - s1 <= stride


@pytest.mark.parametrize(("size", "stride"), [(0, 1), (4, 0), (4, 5)])
def test_plan_windows_rejects_bad_sizes(size: int, stride: int) -> None:
    with pytest.raises(ConfigError, match="window"):
        plan_windows(10, size=size, stride=stride)


def test_short_text_window_equals_the_tokenizers_own_encoding() -> None:
    tokenizer = fake_tokenizer()
    windower = TokenWindower(tokenizer, max_length=16)
    text = "Here are the steps. Mix flour and eggs."
    [[window]] = windower.windows([text])
    assert window.ids == tokenizer.encode(text).ids
    assert (window.char_start, window.char_end) == (0, len(text))


def test_long_text_windows_carry_special_tokens_and_cover_all_tokens() -> None:
    tokenizer = fake_tokenizer()
    tokenizer.enable_truncation(8)
    windower = TokenWindower(tokenizer, max_length=10, stride=3)
    text = " ".join(["one two three"] * 20) + " sorry"
    [windows] = windower.windows([text])
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    assert windower.content_size == 8
    assert len(windows) == 1 + -(-(61 - 8) // 3)
    for w in windows:
        assert len(w.ids) == 10 and w.ids[0] == cls and w.ids[-1] == sep
    assert windows[-1].ids[-2] == tokenizer.token_to_id("sorry")
    assert windows[-1].char_end == len(text)
    assert windows[1].char_start == len("one two three ")  # the second window starts 3 tokens in
    assert tokenizer.truncation is not None  # the caller's tokenizer is left as it was


def test_default_stride_is_half_the_window() -> None:
    windower = TokenWindower(fake_tokenizer(), max_length=18)
    assert (windower.content_size, windower.stride) == (16, 8)


@pytest.mark.parametrize(
    ("starts", "n", "expected"),
    [
        ([0, 3, 6, 9], 12, [(0, 6), (6, 12)]),  # two sentences per window, none cut
        ([0, 2, 15], 20, [(0, 2), (2, 9), (5, 12), (8, 15), (15, 20)]),  # one sentence too long
        ([0, 4], 6, [(0, 6)]),  # fits one window
        ([0, 7, 14], 21, [(0, 7), (7, 14), (14, 21)]),  # sentences exactly a window long
    ],
)
def test_pack_sentences(starts: list[int], n: int, expected: list[tuple[int, int]]) -> None:
    assert pack_sentences(starts, n, size=7, stride=3) == expected


@settings(max_examples=200, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 300), max_size=40, unique=True),
    n=st.integers(0, 300),
    size=st.integers(1, 40),
)
def test_packed_windows_cover_every_token_once_and_never_cut_a_short_sentence(
    cuts: list[int], n: int, size: int
) -> None:
    starts = sorted(c for c in cuts if c < n)
    windows = pack_sentences(starts, n, size=size, stride=max(1, size // 2))
    assert all(end - start <= size for start, end in windows)
    covered = [t for start, end in windows for t in range(start, end)]
    assert set(covered) == set(range(n))
    bounds = [0, *starts, n]
    for begin, end in itertools.pairwise(bounds):
        if 0 < end - begin <= size:  # a sentence that fits a window lies whole inside one
            assert any(s <= begin and end <= e for s, e in windows)
    if all(b - a <= size for a, b in itertools.pairwise(bounds)):
        assert len(covered) == n  # no sentence longer than a window: each token read once


def test_sentence_windows_start_at_sentences_and_read_each_token_once() -> None:
    text = " ".join(f"Step {w} is to mix the flour and eggs." for w in ["one", "two", "three"] * 8)
    tokens = TokenWindower(fake_tokenizer(), max_length=40, align="tokens")
    sentences = TokenWindower(fake_tokenizer(), max_length=40, align="sentences")
    [by_tokens] = tokens.windows([text])
    [by_sentences] = sentences.windows([text])
    n_tokens = tokens.count_tokens([text])[0]
    assert sum(len(w.ids) - 2 for w in by_sentences) == n_tokens
    assert sum(len(w.ids) - 2 for w in by_tokens) > 1.5 * n_tokens  # 50% overlap
    for window in by_sentences:
        assert text[window.char_start :].startswith("Step ")
        assert text[: window.char_end].endswith("eggs.")
    assert sentences.window_ids([text]) == [[w.ids for w in by_sentences]]


def test_the_default_is_token_windows_with_an_eighth_overlap() -> None:
    detector = fake_detector(max_length=16)
    content = TokenWindower(fake_tokenizer(), max_length=16).content_size
    assert detector.window_align == "tokens"
    assert detector.window_stride == int(content * 0.875)
    assert TokenWindower(fake_tokenizer(), max_length=16).stride == content // 2  # windower: half


@pytest.mark.parametrize("align", ["tokens", "sentences"])
def test_a_refusal_sentence_is_found_with_either_window_alignment(align: str) -> None:
    detector = fake_detector(max_length=16, window_align=align)
    body = ["Here are the steps.", "Mix flour and eggs."] * 20
    for at in (0, 17, 40):
        text = " ".join([*body[:at], "Sorry, I can't help with that.", *body[at:]])
        assert detector.predict_proba([text])[0] > 0.9
    assert detector.predict_proba([" ".join(body)])[0] < 0.1


def test_windower_rejects_an_unknown_alignment() -> None:
    with pytest.raises(ConfigError, match="alignment"):
        TokenWindower(fake_tokenizer(), max_length=16, align="paragraphs")


def test_windower_rejects_a_window_with_no_room_for_text() -> None:
    with pytest.raises(ConfigError, match="max_length"):
        TokenWindower(fake_tokenizer(), max_length=2)


# --- Windows through the detector: nothing is truncated -------------------------------------------

FILLER = " ".join(["here are the steps to mix flour and eggs."] * 40)  # ~400 tokens


def test_a_refusal_anywhere_in_a_long_text_is_scored() -> None:
    detector = fake_detector(max_length=16)
    for text in (f"sorry. {FILLER}", f"{FILLER} sorry. {FILLER}", f"{FILLER} sorry."):
        assert detector.predict_proba([text])[0] > 0.9
    assert detector.predict_proba([FILLER])[0] < 0.1


def test_all_windows_of_all_texts_are_scored_in_shared_batches() -> None:
    detector = fake_detector(max_length=16, batch_size=8)
    texts = [FILLER, "sorry", FILLER[:200]]
    counts = [len(s) for s in detector.window_scores(texts)]
    backend = detector.backend
    backend.calls.clear()  # type: ignore[attr-defined]
    detector.predict_proba(texts)
    calls = backend.calls  # type: ignore[attr-defined]
    assert counts[1] == 1 and counts[0] > 10
    assert sum(calls) == sum(counts)
    assert len(calls) == -(-sum(counts) // 8)  # windows of different texts share batches


def test_window_stride_sets_the_number_of_windows() -> None:
    dense = fake_detector(max_length=16, window_stride=2, window_align="tokens")
    sparse = fake_detector(max_length=16, window_stride=14, window_align="tokens")
    assert (dense.window_stride, sparse.window_stride) == (2, 14)
    n_dense = len(dense.window_scores([FILLER])[0])
    n_sparse = len(sparse.window_scores([FILLER])[0])
    assert n_dense > 5 * n_sparse


def test_mean_reduction_dilutes_a_single_refusing_window() -> None:
    text = f"{FILLER} sorry. {FILLER}"
    assert fake_detector(reduction="mean").predict_proba([text])[0] < 0.5
    assert fake_detector(reduction="max").predict_proba([text])[0] > 0.9


@pytest.mark.parametrize(
    ("options", "match"),
    [({"reduction": "median"}, "reduction"), ({"window_stride": 0}, "stride")],
)
def test_detector_rejects_bad_window_options(options: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        fake_detector(**options)


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_texts_that_fit_the_window_score_as_before(tiny_model_dir: Path, backend: str) -> None:
    from refusal_detector import RefusalDetector

    detector = RefusalDetector.from_pretrained(tiny_model_dir, backend=backend)
    texts = ["sorry i can't help with that", "", "here is a recipe for pancakes: mix flour"]
    expected = detector.score_token_sequences(detector.encode(texts))
    np.testing.assert_allclose(detector.predict_proba(texts), expected, rtol=0, atol=1e-6)


def test_from_pretrained_passes_window_options(tiny_model_dir: Path) -> None:
    from refusal_detector import RefusalDetector

    detector = RefusalDetector.from_pretrained(
        tiny_model_dir, max_length=32, window_stride=10, reduction="mean"
    )
    assert (detector.window_stride, detector.reduction) == (10, "mean")
    long_text = " ".join(["the weather is warm in summer"] * 30)
    assert len(detector.window_scores([long_text])[0]) > 10


@pytest.mark.parametrize("backend", ["onnx", "torch"])
def test_long_text_score_is_the_max_over_windows_starting_with_the_truncated_one(
    tiny_model_dir: Path, backend: str
) -> None:
    from refusal_detector import RefusalDetector

    detector = RefusalDetector.from_pretrained(tiny_model_dir, backend=backend, max_length=32)
    long_text = " ".join(["the weather is warm in summer and cold in winter ."] * 20)
    [windows] = detector.window_scores([long_text])
    truncated = detector.score_token_sequences(detector.encode([long_text]))[0]
    assert len(windows) > 5
    assert windows[0] == pytest.approx(truncated, abs=1e-6)
    assert detector.predict_proba([long_text])[0] == pytest.approx(windows.max(), abs=1e-6)
