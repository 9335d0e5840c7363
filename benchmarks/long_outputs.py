"""Long outputs: overlapping windows versus truncation, in cost and in refusals caught.

For answers of several lengths (in model tokens) it builds a realistic markdown answer, buries one
refusal sentence at several depths, and scores every text

- by truncation (what llm-guard and a plain pipeline do: the first window only),
- by sentence-packed windows (``window_align="sentences"``: whole sentences packed into windows
  of the model's length, no overlap, each token read once),
- by overlapping token windows of several lengths (up to the model's window) and overlaps
  (``window_align="tokens"``, the detector's default, at ``WINDOW_OVERLAP``), and
- by sentences (what refusal_spans and the scanner's sentence mode read),

and prints one table: windows (or sentences) per text, milliseconds per text, cost relative to
truncation, the share of buried refusals caught (P(refusal) >= 0.5, and > 0.75 after rounding,
llm-guard's default threshold) and the highest score on the clean answers (false alarms).

    python benchmarks/long_outputs.py                      # the shipped model
    python benchmarks/long_outputs.py --model DIR --lengths 256,1024,5000 --windows 64,128

Timings are wall-clock medians on this machine's CPUs; they vary with load. Results go to stdout.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from refusal_detector import RefusalDetector
from refusal_detector.detector import WINDOW_OVERLAP
from refusal_detector.segment import TokenWindower, split_sentences
from refusal_detector.spans import score_sentences

PARAGRAPHS = [
    "Start by choosing a sunny spot that gets at least six hours of direct light each day. "
    "Test the soil first; most vegetables prefer a pH between 6.0 and 7.0, and a cheap kit "
    "from a garden centre is accurate enough.",
    "Raised beds warm up faster in spring and drain better after heavy rain. Build them no "
    "wider than four feet so you can reach the middle without stepping on the soil.",
    "- Mix two inches of compost into the top layer before planting.\n"
    "- Water deeply twice a week rather than a little every day.\n"
    "- Mulch with straw to keep moisture in and weeds out.",
    "To read a CSV file in Python, use the csv module from the standard library:\n\n"
    "```python\nimport csv\n\nwith open('data.csv', newline='') as f:\n"
    "    for row in csv.DictReader(f):\n        print(row['name'], row['price'])\n```",
    "The French Revolution began in 1789, when financial crisis and food shortages brought the "
    "Estates-General together for the first time since 1614. Within weeks the Third Estate "
    "declared itself a National Assembly.",
    "For a basic pancake batter, whisk one cup of flour, one tablespoon of sugar, two teaspoons "
    "of baking powder and a pinch of salt. Add one egg and one cup of milk, and stir until just "
    "combined; a few lumps are fine.",
    "## Budgeting\n\nTrack every expense for one month before you set limits. Most people find "
    "that subscriptions and takeaway food are where the money quietly goes.",
    "Interest compounds: 1,000 dollars at 5% a year becomes about 1,629 dollars after ten years, "
    "because each year's interest earns interest in the following years.",
]
REFUSALS = [
    "I'm sorry, but I can't help with that part of your request.",
    "I cannot provide instructions for bypassing the security system.",
    "As an AI language model, I won't write that message for you.",
]
DEPTHS = (0.1, 0.3, 0.5, 0.7, 0.9)


def build_answer(windower: TokenWindower, n_tokens: int, offset: int = 0) -> list[str]:
    """Paragraphs whose total length is about ``n_tokens`` model tokens."""
    paragraphs: list[str] = []
    pool = itertools.islice(itertools.cycle(PARAGRAPHS), offset, None)
    while True:
        paragraphs.append(next(pool))
        if windower.count_tokens(["\n\n".join(paragraphs)])[0] >= n_tokens:
            return paragraphs


def bury(paragraphs: Sequence[str], refusal: str, depth: float) -> str:
    at = round(depth * len(paragraphs))
    return "\n\n".join([*paragraphs[:at], refusal, *paragraphs[at:]])


def timed(fn: Callable[[], np.ndarray], repeats: int) -> tuple[np.ndarray, float]:
    times, result = [], fn()  # warm-up run also gives the result
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times) if times else float("nan")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="model directory (shipped)")
    parser.add_argument("--backend", default="onnx", choices=["onnx", "torch", "auto"])
    parser.add_argument("--lengths", default="256,512,1024,2048,5000", help="tokens per answer")
    parser.add_argument(
        "--overlaps", default="0,0.5,0.75", help="window overlaps (0.5 is the default)"
    )
    parser.add_argument(
        "--windows",
        default="64,128,256,512",
        help="window lengths in tokens; those above the model's window are skipped",
    )
    parser.add_argument(
        "--beyond-model-window",
        action="store_true",
        help="also run windows longer than the model's declared window (up to its positions)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per cell (median)")
    args = parser.parse_args(argv)

    base = RefusalDetector.from_pretrained(args.model, backend=args.backend)
    windower = TokenWindower(base.tokenizer, max_length=base.max_length, align="tokens")
    content = windower.content_size
    lengths = [int(x) for x in args.lengths.split(",")]
    overlaps = [float(x) for x in args.overlaps.split(",")]
    limit = 512 if args.beyond_model_window else base.max_length
    windows = [w for w in (int(x) for x in args.windows.split(",")) if w <= limit]
    windows = windows or [base.max_length]
    sys.stderr.write(
        f"model {base.model_dir} ({base.backend_name}), window {base.max_length} tokens "
        f"({content} of text), batch {base.batch_size}\n"
    )
    _emit(
        "| answer tokens | reading | window | stride | windows/text | ms/text | x truncation "
        "| caught >= 0.5 | caught > 0.75 | max score, clean |"
    )
    _emit("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n_tokens in lengths:
        clean = [build_answer(windower, n_tokens, offset=i) for i in range(len(REFUSALS))]
        buried = [bury(c, r, d) for c, r in zip(clean, REFUSALS, strict=True) for d in DEPTHS]
        clean_texts = ["\n\n".join(c) for c in clean]
        texts = buried + clean_texts
        n_buried = len(buried)

        def truncate(texts: list[str] = texts) -> np.ndarray:
            return base.score_token_sequences(base.encode(texts))

        scores, seconds = timed(truncate, args.repeats)
        trunc_ms = 1000 * seconds / len(texts)
        row = _row(
            n_tokens, "truncation", base.max_length, "-", 1.0, trunc_ms, 1.0, scores, n_buried
        )
        _emit(row)

        def sentences(texts: list[str] = texts) -> np.ndarray:
            per_text = score_sentences(base, texts)
            return np.array([max(s.score for s in scored) for scored in per_text])

        n_sentences = np.mean([len(split_sentences(t)) for t in texts])
        scores, seconds = timed(sentences, args.repeats)
        ms = 1000 * seconds / len(texts)
        label = "sentences (spans, sentence mode)"
        ratio = ms / trunc_ms
        _emit(_row(n_tokens, label, base.max_length, "-", n_sentences, ms, ratio, scores, n_buried))
        for window in windows:
            packed = _detector(base, window, None, "sentences")
            n_windows = np.mean([len(w) for w in packed.window_scores(texts)])

            def packed_run(texts: list[str] = texts, d: RefusalDetector = packed) -> np.ndarray:
                return d.predict_proba(texts)

            scores, seconds = timed(packed_run, args.repeats)
            ms = 1000 * seconds / len(texts)
            label = "sentence-packed windows"
            _emit(
                _row(n_tokens, label, window, "-", n_windows, ms, ms / trunc_ms, scores, n_buried)
            )
        for window, overlap in itertools.product(windows, overlaps):
            size = TokenWindower(base.tokenizer, max_length=window).content_size
            stride = max(1, round(size * (1 - overlap)))
            detector = _detector(base, window, stride, "tokens")
            n_windows = np.mean([len(w) for w in detector.window_scores(texts)])

            def windowed(texts: list[str] = texts, d: RefusalDetector = detector) -> np.ndarray:
                return d.predict_proba(texts)

            scores, seconds = timed(windowed, args.repeats)
            ms = 1000 * seconds / len(texts)
            label = f"windows, {overlap * 100:g}% overlap"
            if window == base.max_length and overlap == WINDOW_OVERLAP:
                label += " (default)"
            ratio = ms / trunc_ms
            _emit(_row(n_tokens, label, window, stride, n_windows, ms, ratio, scores, n_buried))
    return 0


def _detector(
    base: RefusalDetector, window: int, stride: int | None, align: str
) -> RefusalDetector:
    return RefusalDetector(
        model_dir=base.model_dir,
        backend=base.backend,
        backend_name=base.backend_name,
        tokenizer=base.tokenizer,
        max_length=window,
        pad_id=base.pad_id,
        batch_size=base.batch_size,
        window_stride=stride,
        window_align=align,
    )


def _emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _row(
    n_tokens: int,
    label: str,
    window: int,
    stride: object,
    n_windows: float,
    ms: float,
    ratio: float,
    scores: np.ndarray,
    n_buried: int,
) -> str:
    caught = scores[:n_buried]
    return (
        f"| {n_tokens} | {label} | {window} | {stride} | {n_windows:.1f} | {ms:.1f} | {ratio:.1f} "
        f"| {np.mean(caught >= 0.5):.0%} | {np.mean(np.round(caught, 2) > 0.75):.0%} "
        f"| {scores[n_buried:].max():.2f} |"
    )


if __name__ == "__main__":
    raise SystemExit(main())
