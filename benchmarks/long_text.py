"""Time one very long text through ``predict_proba``: what ``max_chars`` bounds.

    python benchmarks/long_text.py                    # "word " x 400,000 (2 MB), default max_chars
    python benchmarks/long_text.py --max-chars 0      # the same text read in full (unbounded)
    python benchmarks/long_text.py --repeat 800000    # a 4 MB text

Prints the text's size, the characters read, the token windows scored (and how many reading every
character would score), and the wall-clock seconds of one ``predict_proba`` call (after one
warm-up call on a short text) with the shipped model.
Timings depend on the machine and its load: compare rows of one run.
"""

from __future__ import annotations

import argparse
import time

from refusal_detector import RefusalDetector
from refusal_detector.segment import TokenWindower
from refusal_detector.text_input import DEFAULT_MAX_CHARS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=400_000, help="copies of 'word '")
    parser.add_argument(
        "--max-chars", type=int, default=DEFAULT_MAX_CHARS, help="0 reads the whole text"
    )
    parser.add_argument("--model", default=None, help="model directory (default: shipped)")
    args = parser.parse_args()

    detector = RefusalDetector.from_pretrained(args.model, max_chars=args.max_chars or None)
    detector.predict_proba(["warm-up"])
    text = "word " * args.repeat
    read = detector.prepare_texts(text)[0].text
    windower = TokenWindower(
        detector.tokenizer, max_length=detector.max_length, stride=detector.window_stride
    )
    windows = len(windower.windows([read])[0])
    all_windows = len(windower.windows([text])[0])  # what reading every character would score
    start = time.perf_counter()
    (score,) = detector.predict_proba([text])
    seconds = time.perf_counter() - start
    header = "| characters | max_chars | characters read | windows scored | windows in full |"
    print(f"{header} seconds | score |")  # noqa: T201
    print("|---:|---:|---:|---:|---:|---:|---:|")  # noqa: T201
    print(  # noqa: T201
        f"| {len(text):,} | {args.max_chars or 'none'} | {len(read):,} | {windows:,} | "
        f"{all_windows:,} | {seconds:.1f} | {score:.3f} |"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
