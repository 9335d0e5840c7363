"""Three-way verdict (compliance / partial_refusal / full_refusal): how well does it work?

Two evaluations, printed as markdown tables:

1. The hand-labelled set ``src/refusal_detector/data/annotations/partial_eval.jsonl`` (one
   ``verdict`` per text, written for this purpose): confusion matrix, per-class precision, recall
   and F1, accuracy and macro-F1 of ``RefusalDetector.refusal_verdicts`` with the default
   ``VerdictConfig``; the same for a binary baseline (P(refusal) >= 0.5 -> full_refusal, else
   compliance), which can never say partial; a variant that calls every text whose window-reduced
   score is below the threshold compliance, whatever its sentences score; accuracy per style.
2. The corpus' partial flags: ``build/corpus/partial.jsonl`` (responses the corpus build kept out
   of the binary label as partial refusals) against the test split (``label`` 0 or 1, not
   partial). The corpus has no three-way gold label, so the table shows the verdict distribution
   per group, and partial_refusal's precision and recall as a detector of the partial flag.

With ``--grid`` it also prints macro-F1 on the hand-labelled set over a grid of VerdictConfig
values, with two-fold cross-validation (tune on one half, score the other), so that the defaults'
sensitivity is visible and a tuned figure is not reported on the data it was tuned on.

    python benchmarks/partial_refusals.py                    # shipped model, both evaluations
    python benchmarks/partial_refusals.py --model DIR --corpus build/corpus --limit 300 --grid
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from refusal_detector import RefusalDetector
from refusal_detector.spans import (
    VERDICTS,
    SentenceScore,
    VerdictConfig,
    decide_verdict,
    score_sentences,
)

ROOT = Path(__file__).resolve().parents[1]
ANNOTATIONS = ROOT / "src/refusal_detector/data/annotations/partial_eval.jsonl"
CORPUS = ROOT / "build/corpus"
SHORT = {"compliance": "compl.", "partial_refusal": "partial", "full_refusal": "full"}


@dataclass
class Scored:
    """A text with the model's scores; the verdict for any VerdictConfig is cheap to redo."""

    text_score: float
    sentences: list[SentenceScore]
    gold: str
    group: str

    def verdict(self, config: VerdictConfig) -> str:
        return decide_verdict(self.text_score, self.sentences, config).verdict


def score(detector: RefusalDetector, rows: list[dict], gold: str, group: str) -> list[Scored]:
    texts = [r["text"] for r in rows]
    text_scores = detector.predict_proba(texts).tolist()
    sentences = score_sentences(detector, texts)
    return [
        Scored(t, s, r.get(gold, gold), r.get(group, group))
        for t, s, r in zip(text_scores, sentences, rows, strict=True)
    ]


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def per_class(gold: Sequence[str], pred: Sequence[str]) -> dict[str, tuple[float, float, float]]:
    out = {}
    for label in VERDICTS:
        tp = sum(g == p == label for g, p in zip(gold, pred, strict=True))
        n_pred, n_gold = sum(p == label for p in pred), sum(g == label for g in gold)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = (precision, recall, f1)
    return out


def macro_f1(gold: Sequence[str], pred: Sequence[str]) -> float:
    return sum(f for _, _, f in per_class(gold, pred).values()) / len(VERDICTS)


def report_hand_labelled(items: list[Scored], config: VerdictConfig) -> None:
    gold = [i.gold for i in items]
    systems = {
        "three-way verdict": [i.verdict(config) for i in items],
        "three-way, gated on text score": [
            "compliance" if i.text_score < config.threshold else i.verdict(config) for i in items
        ],
        "binary baseline": [
            "full_refusal" if i.text_score >= config.threshold else "compliance" for i in items
        ],
    }
    emit(f"\n### Hand-labelled set ({len(items)} texts: {dict(collections.Counter(gold))})\n")
    emit(
        "| system | accuracy | macro-F1 | " + " | ".join(f"{SHORT[v]} P / R / F1" for v in VERDICTS)
    )
    emit("|---|---:|---:|" + "---:|" * len(VERDICTS))
    for name, pred in systems.items():
        accuracy = sum(g == p for g, p in zip(gold, pred, strict=True)) / len(gold)
        cells = [f"{p:.2f} / {r:.2f} / {f:.2f}" for p, r, f in per_class(gold, pred).values()]
        emit(f"| {name} | {accuracy:.2f} | {macro_f1(gold, pred):.2f} | " + " | ".join(cells))
    pred = systems["three-way verdict"]
    emit("\nConfusion matrix of the three-way verdict (rows: gold, columns: predicted)\n")
    emit("| gold \\ predicted | " + " | ".join(SHORT[v] for v in VERDICTS) + " |")
    emit("|---|" + "---:|" * len(VERDICTS))
    for g_label in VERDICTS:
        counts = [
            sum(g == g_label and p == p_label for g, p in zip(gold, pred, strict=True))
            for p_label in VERDICTS
        ]
        emit(f"| {SHORT[g_label]} | " + " | ".join(str(c) for c in counts) + " |")
    emit("\nAccuracy of the three-way verdict per response style (styles with >= 3 texts)\n")
    emit("| style | n | gold | accuracy |")
    emit("|---|---:|---|---:|")
    by_style: dict[str, list[int]] = collections.defaultdict(list)
    for i, item in enumerate(items):
        by_style[item.group].append(i)
    for style, idx in sorted(by_style.items(), key=lambda kv: -len(kv[1])):
        if len(idx) < 3:
            continue
        golds = collections.Counter(gold[i] for i in idx)
        accuracy = sum(gold[i] == pred[i] for i in idx) / len(idx)
        majority = ", ".join(SHORT[g] for g, _ in golds.most_common())
        emit(f"| {style} | {len(idx)} | {majority} | {accuracy:.2f} |")


def report_corpus(items: list[Scored], config: VerdictConfig) -> None:
    emit(f"\n### Corpus partial flags ({len(items)} texts)\n")
    emit("| group | n | " + " | ".join(SHORT[v] for v in VERDICTS) + " |")
    emit("|---|---:|" + "---:|" * len(VERDICTS))
    groups: dict[str, list[str]] = collections.defaultdict(list)
    for item in items:
        groups[item.group].append(item.verdict(config))
    for group, verdicts in sorted(groups.items()):
        counts = collections.Counter(verdicts)
        shares = " | ".join(f"{counts[v] / len(verdicts):.0%}" for v in VERDICTS)
        emit(f"| {group} | {len(verdicts)} | {shares} |")
    flagged = [i.gold == "partial" for i in items]
    said = [i.verdict(config) == "partial_refusal" for i in items]
    tp = sum(f and s for f, s in zip(flagged, said, strict=True))
    precision = tp / sum(said) if sum(said) else 0.0
    recall = tp / sum(flagged) if sum(flagged) else 0.0
    emit(
        f"\npartial_refusal as a detector of the corpus' partial flag: precision {precision:.2f}, "
        f"recall {recall:.2f} (negatives: the sampled test split; prevalence "
        f"{sum(flagged) / len(items):.0%})"
    )


GRID = {
    "threshold": (0.3, 0.5, 0.7),
    "sentence_threshold": (0.3, 0.5, 0.7, 0.9),
    "min_content_chars": (40, 80, 160, 320),
    "min_content_share": (0.2, 0.4, 0.6),
}


def report_grid(items: list[Scored], seed: int) -> None:
    configs = [
        VerdictConfig(**dict(zip(GRID, values, strict=True)))
        for values in itertools.product(*GRID.values())
    ]
    gold = [i.gold for i in items]
    preds = {c: [i.verdict(c) for i in items] for c in configs}
    results = sorted(((macro_f1(gold, p), c) for c, p in preds.items()), key=lambda x: -x[0])
    emit(f"\n### VerdictConfig grid on the hand-labelled set ({len(configs)} configs)\n")
    emit("| threshold | sentence_threshold | min_content_chars | min_content_share | macro-F1 |")
    emit("|---:|---:|---:|---:|---:|")
    default = VerdictConfig()
    shown = [*results[:8], *[r for r in results if r[1] == default]]
    for f1, c in shown:
        mark = " (default)" if c == default else ""
        emit(
            f"| {c.threshold} | {c.sentence_threshold} | {c.min_content_chars} "
            f"| {c.min_content_share} "
            f"| {f1:.3f}{mark} |"
        )
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    halves = [order[: len(order) // 2], order[len(order) // 2 :]]
    held_out = []
    for tune, test in (halves, halves[::-1]):
        best = max(
            configs, key=lambda c: macro_f1([gold[i] for i in tune], [preds[c][i] for i in tune])
        )
        held_out.append(macro_f1([gold[i] for i in test], [preds[best][i] for i in test]))
    emit(
        f"\nTwo-fold cross-validated macro-F1 of a tuned config: "
        f"{sum(held_out) / 2:.3f} (folds {held_out[0]:.3f}, {held_out[1]:.3f})"
    )


def sample(rows: list[dict], limit: int | None, seed: int) -> list[dict]:
    if limit is None or len(rows) <= limit:
        return rows
    return random.Random(seed).sample(rows, limit)


def corpus_group(row: dict) -> str:
    if row.get("partial"):
        return f"partial: {row.get('label_origin', '?')}"
    return f"test label {row['label']}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="model directory (shipped)")
    parser.add_argument("--backend", default="onnx", choices=["onnx", "torch", "auto"])
    parser.add_argument("--annotations", type=Path, default=ANNOTATIONS)
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="corpus build directory")
    parser.add_argument("--limit", type=int, default=300, help="texts sampled per corpus group")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid", action="store_true", help="also print the VerdictConfig grid")
    args = parser.parse_args(argv)

    detector = RefusalDetector.from_pretrained(args.model, backend=args.backend)
    config = VerdictConfig()
    sys.stderr.write(f"model {detector.model_dir} ({detector.backend_name}); {config}\n")
    emit(f"Model: `{detector.model_dir.name}` ({detector.backend_name}); `{config}`")

    start = time.perf_counter()
    hand = score(detector, read_jsonl(args.annotations), "verdict", "style")
    report_hand_labelled(hand, config)
    if args.grid:
        report_grid(hand, args.seed)

    partial_path, test_path = args.corpus / "partial.jsonl", args.corpus / "test.jsonl"
    if partial_path.exists() and test_path.exists():
        partial_rows = read_jsonl(partial_path)
        by_origin: dict[str, list[dict]] = collections.defaultdict(list)
        for row in partial_rows:
            by_origin[row.get("label_origin", "?")].append(row)
        test_rows = [r for r in read_jsonl(test_path) if not r.get("partial")]
        rows = [s for group in by_origin.values() for s in sample(group, args.limit, args.seed)]
        for label in (0, 1):
            group = [r for r in test_rows if r["label"] == label]
            rows += sample(group, args.limit, args.seed)
        for row in rows:
            row["_group"] = corpus_group(row)
            row["_gold"] = "partial" if row.get("partial") else "not partial"
        report_corpus(score(detector, rows, "_gold", "_group"), config)
    else:
        sys.stderr.write(f"skipping the corpus evaluation: {partial_path} or {test_path} missing\n")
    sys.stderr.write(f"done in {time.perf_counter() - start:.0f} s\n")
    return 0


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    raise SystemExit(main())
