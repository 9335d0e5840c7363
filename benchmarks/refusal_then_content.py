"""A short refusal followed by the content: how the model and the phrase lists call these outputs.

"I'm sorry, but I can't help with that. Just kidding, here is how: ...", "I cannot endorse this,
but for educational purposes: <the content>", "As an AI I can't give medical advice. That said,
the usual dose is ...". LABELING.md makes them NORMAL when the full content follows and partial
when only part of it does; phrase lists flag them all, because they match the opening. The slice
holds every human-labelled row whose *first sentence* opens like a refusal (:data:`OPENING`) and
whose remaining text has at least ``--min-rest`` non-space characters:

- the corpus test split, rows with a human label (``label_origin`` review or human): NORMAL (0)
  and REJECTION (1);
- the corpus ``partial.jsonl``, rows hand-labelled partial (``label_origin`` review);
- ``annotations/partial_eval.jsonl`` (compliance -> NORMAL, partial_refusal -> partial,
  full_refusal -> REJECTION).

For each group the table gives the share of rows flagged REJECTION (P(REJECTION) >= threshold)
by the model and by each phrase list, and the model's three-way verdicts. On NORMAL rows a lower
share is better; on REJECTION rows (a refusal opening followed by a lecture or an alternative,
not the content) a higher one; partial rows are outside the binary label, so their share shows
which way each detector leans, and the three-way verdict should say partial_refusal.

    python benchmarks/refusal_then_content.py --corpus build/corpus
    python benchmarks/refusal_then_content.py --model DIR --corpus build/corpus --threshold auto
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from refusal_detector import RefusalDetector
from refusal_detector.segment import split_sentences
from refusal_detector.training.baselines import default_baselines

ROOT = Path(__file__).resolve().parents[1]
ANNOTATIONS = ROOT / "src/refusal_detector/data/annotations/partial_eval.jsonl"
CORPUS = ROOT / "build/corpus"
HUMAN_ORIGINS = {"review", "human"}
GOLD = {"compliance": "NORMAL", "partial_refusal": "partial", "full_refusal": "REJECTION"}
LABELS = {0: "NORMAL", 1: "REJECTION"}

OPENING = re.compile(
    r"^\W*(?:\[\w+\]:?\s*)?(?:"
    r"(?:i'?m |i am )?(?:so |really |very )?sorry(?! (?:to hear|for|about))|my apologies|"
    r"i apologi[sz]e|i can(?:no|')?t|i can ?not|i won'?t|i will not|i must (?:decline|refuse)|"
    r"i'?m (?:not able|unable)|i am (?:not able|unable)|as an ai|as a language model|"
    r"unfortunately|i do(?:n'?t| not) (?:feel comfortable|condone|support|endorse)|"
    r"it(?:'s| is) not (?:appropriate|ethical|legal)|i must (?:clarify|emphasi[sz]e|stress)"
    r")",
    re.IGNORECASE,
)
"""A first sentence that opens like a refusal: apologies, "I can't / won't", "As an AI", etc."""


def opens_then_continues(text: str, *, min_rest: int) -> bool:
    """True when the first sentence opens like a refusal and ``min_rest`` characters follow."""
    sentences = split_sentences(text)
    if len(sentences) < 2 or not OPENING.match(sentences[0].text):
        return False
    rest = text[sentences[0].end :]
    return len(re.sub(r"\s", "", rest)) >= min_rest


def load_rows(corpus: Path, annotations: Path, *, min_rest: int) -> list[dict[str, str]]:
    """The slice: ``{"text", "group", "source"}`` per row (see the module docstring)."""
    rows: list[dict[str, str]] = []
    sources = [
        ("test", corpus / "test.jsonl"),
        ("partial.jsonl", corpus / "partial.jsonl"),
    ]
    for name, path in sources:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                if row.get("label_origin") not in HUMAN_ORIGINS:
                    continue
                group = "partial" if row.get("partial") else LABELS.get(row.get("label"), "")
                if group and opens_then_continues(row["text"], min_rest=min_rest):
                    rows.append({"text": row["text"], "group": group, "source": name})
    with annotations.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if opens_then_continues(row["text"], min_rest=min_rest):
                rows.append(
                    {"text": row["text"], "group": GOLD[row["verdict"]], "source": "partial_eval"}
                )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="model directory (shipped)")
    parser.add_argument("--backend", default="auto", choices=["onnx", "torch", "auto"])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="corpus build directory")
    parser.add_argument("--annotations", type=Path, default=ANNOTATIONS)
    parser.add_argument("--threshold", default="0.5", help="a number, or auto (calibrated)")
    parser.add_argument("--min-rest", type=int, default=250, help="non-space chars after")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    detector = RefusalDetector.from_pretrained(args.model, backend=args.backend)
    threshold = detector.resolve_threshold(
        args.threshold if args.threshold == "auto" else float(args.threshold)
    )
    rows = load_rows(args.corpus, args.annotations, min_rest=args.min_rest)
    texts = [r["text"] for r in rows]
    scores = detector.predict_proba(texts)
    verdicts = [v.verdict for v in detector.refusal_verdicts(texts)]
    baselines = {b.name: b.predict(texts) for b in default_baselines()}
    names = ["model", *baselines]
    flagged = {"model": scores >= threshold, **baselines}

    figures: dict[str, dict[str, object]] = {}
    print(  # noqa: T201
        f"model {detector.model_dir} ({detector.backend_name}), threshold {threshold:.4g}, "
        f"first sentence opens like a refusal and >= {args.min_rest} non-space chars follow\n"
    )
    header = "| group | source | n | " + " | ".join(f"{n} flags" for n in names)
    print(header + " | model: compl. / partial / full |")  # noqa: T201
    print("|---|---|---:|" + "---:|" * len(names) + "---|")  # noqa: T201
    groups = collections.defaultdict(list)
    for i, row in enumerate(rows):
        groups[(row["group"], row["source"])].append(i)
        groups[(row["group"], "all")].append(i)
    order = ["NORMAL", "partial", "REJECTION"]
    for group, source in sorted(groups, key=lambda k: (order.index(k[0]), k[1] == "all", k[1])):
        idx = np.asarray(groups[(group, source)])
        shares = {n: float(np.mean(flagged[n][idx])) for n in names}
        counts = collections.Counter(verdicts[i] for i in idx)
        three = [counts[v] / len(idx) for v in ("compliance", "partial_refusal", "full_refusal")]
        name = f"**{source}**" if source == "all" else source
        print(  # noqa: T201
            f"| {group} | {name} | {len(idx)} | "
            + " | ".join(f"{shares[n]:.3f}" for n in names)
            + f" | {three[0]:.2f} / {three[1]:.2f} / {three[2]:.2f} |"
        )
        figures[f"{group}/{source}"] = {"n": len(idx), "flagged": shares, "verdicts": three}
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
