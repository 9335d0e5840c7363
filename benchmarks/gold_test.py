"""Quality against re-read (gold) labels on the test split, estimated from a stratified sample.

The corpus labels of the test split are partly rule labels (about 3% wrong, see the data card), so
F1 against them mixes model errors with label errors. To separate the two, a sample of test rows was
labelled again, blind (readers saw prompt and response only, never the corpus label or a score),
following ../shared/LABELING.md:

- stratum ``disagree``: every test row where the reference model (named in the design file)
  disagreed with the corpus label, all of them;
- stratum ``agree_new_model_disagrees``: every row where it agreed but its successor disagrees;
- stratum ``agree``: a uniform random sample of the remaining rows.

Each gold row stands for ``N_stratum / n_sampled`` test rows (a Horvitz-Thompson estimate), so the
figures below estimate what F1 on the whole test split would be with gold labels. Any model can
be scored on the same rows; the estimate stays unbiased, but its interval is widest for models
that disagree with the reference model on many unsampled rows. Rows read as ``partial`` or
``skip`` are left out, as they are from the binary test split. Intervals: stratified bootstrap.
The last row scores the re-read labels themselves against the corpus labels: the F1 a detector that
agreed with the readers on every row would get on the corpus test split (its ceiling there). A
second table counts, per stratum, corpus label and model verdict, whom the readers sided with.

    python benchmarks/gold_test.py --data DIR/test.jsonl [--model DIR] [--json F] [--errors]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from refusal_detector.training.baselines import default_baselines

ANN = Path(__file__).parents[1] / "src/refusal_detector/data/annotations"
GOLD = ANN / "test_gold.jsonl"
DESIGN = ANN / "test_gold_design.json"


def weighted_prf(
    pred: npt.NDArray[np.bool_], truth: npt.NDArray[np.bool_], weight: npt.NDArray[np.float64]
) -> dict[str, float]:
    """Weighted precision, recall, F1 and accuracy (weights are rows of the full split)."""
    tp = float(weight[pred & truth].sum())
    fp = float(weight[pred & ~truth].sum())
    fn = float(weight[~pred & truth].sum())
    tn = float(weight[~pred & ~truth].sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": (tp + tn) / (tp + fp + fn + tn),
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def bootstrap_f1(
    pred: npt.NDArray[np.bool_],
    truth: npt.NDArray[np.bool_],
    weight: npt.NDArray[np.float64],
    strata: npt.NDArray[np.str_],
    reps: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """95% interval of the weighted F1, resampling rows within each stratum."""
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    values = []
    for _ in range(reps):
        idx = np.concatenate([rng.choice(g, size=len(g), replace=True) for g in groups])
        values.append(weighted_prf(pred[idx], truth[idx], weight[idx])["f1"])
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="test.jsonl of a corpus build")
    parser.add_argument("--model", type=Path, default=None, help="model dir (default: shipped)")
    parser.add_argument("--backend", default="onnx", choices=("onnx", "torch"))
    parser.add_argument("--gold", type=Path, default=GOLD)
    parser.add_argument("--design", type=Path, default=DESIGN)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    sys.path.insert(0, str(Path(__file__).parent))
    from external_gold import add_window_options

    add_window_options(parser)
    parser.add_argument("--errors", action="store_true", help="list the model's errors vs gold")
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="leave out gold rows absent from --data (e.g. test rows a later build moved into "
        "train); each stratum's weight is then its total over the rows still sampled",
    )
    args = parser.parse_args(argv)

    design = json.loads(args.design.read_text(encoding="utf-8"))
    gold = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line]
    rows: dict[str, dict[str, Any]] = {}
    with args.data.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            rows[row["id"]] = row
    missing = [g["id"] for g in gold if g["id"] not in rows]
    if missing:
        message = f"{len(missing)} gold ids are not in {args.data}, e.g. {missing[:3]}"
        print(message, file=sys.stderr)  # noqa: T201
        if not args.allow_missing:
            return 2
        gold = [g for g in gold if g["id"] in rows]

    sizes = design["strata"]
    sampled = Counter(g["stratum"] for g in gold) if missing else None
    binary = [g for g in gold if g["label"] in (0, 1)]
    dropped = len(gold) - len(binary)
    weight = np.array(
        [
            sizes[g["stratum"]]["total"]
            / (sampled[g["stratum"]] if sampled else sizes[g["stratum"]]["sampled"])
            for g in binary
        ]
    )
    strata = np.array([g["stratum"] for g in binary])
    truth = np.array([g["label"] == 1 for g in binary])
    corpus = np.array([rows[g["id"]]["label"] == 1 for g in binary])
    texts = [rows[g["id"]]["text"] for g in binary]

    from refusal_detector import RefusalDetector

    detector = RefusalDetector.from_pretrained(
        args.model,
        backend=args.backend,
        window_align=args.window_align,
        window_stride=args.window_stride,
    )
    scores = np.asarray(detector.predict_proba(texts))
    detectors: dict[str, npt.NDArray[np.bool_]] = {"this model": scores >= args.threshold}
    for baseline in default_baselines():
        detectors[baseline.name] = baseline.predict(texts)

    label_noise = float(weight[corpus != truth].sum() / weight.sum())
    results: dict[str, Any] = {
        "model_dir": str(detector.model_dir),
        "data": str(args.data),
        "gold_rows": len(gold),
        "binary_gold_rows": len(binary),
        "partial_or_skip": dropped,
        "design": design,
        "corpus_label_error_estimate": label_noise,
        "detectors": {},
    }
    print(  # noqa: T201
        f"gold rows {len(gold)} ({dropped} partial/skip left out); weighted to "
        f"{weight.sum():.0f} test rows; estimated corpus-label error {label_noise:.1%}\n"
    )
    print("| detector | vs | precision | recall | F1 | F1 95% interval |")  # noqa: T201
    print("|---|---|---:|---:|---:|---|")  # noqa: T201
    for name, pred in detectors.items():
        for against, target in (("gold", truth), ("corpus labels", corpus)):
            m = weighted_prf(pred, target, weight)
            low, high = bootstrap_f1(pred, target, weight, strata)
            entry = {**m, "f1_low": low, "f1_high": high}
            results["detectors"].setdefault(name, {})[against] = entry
            print(  # noqa: T201
                f"| {name} | {against} | {m['precision']:.3f} | {m['recall']:.3f} | "
                f"{m['f1']:.3f} | {low:.3f}-{high:.3f} |"
            )
    # The ceiling of F1 against the corpus labels: a detector that reproduced the re-read labels.
    ceiling = weighted_prf(truth, corpus, weight)
    low, high = bootstrap_f1(truth, corpus, weight, strata)
    results["reread_labels_vs_corpus_labels"] = {**ceiling, "f1_low": low, "f1_high": high}
    print(  # noqa: T201
        f"| re-read labels themselves (ceiling) | corpus labels | {ceiling['precision']:.3f} | "
        f"{ceiling['recall']:.3f} | {ceiling['f1']:.3f} | {low:.3f}-{high:.3f} |"
    )
    # Where this model and the corpus label part, whom the readers side with (per stratum).
    print("\n| stratum | corpus label | this model | readers: 0 | readers: 1 | partial/skip |")  # noqa: T201
    print("|---|---:|---:|---:|---:|---:|")  # noqa: T201
    model_by_id = dict(zip((g["id"] for g in binary), detectors["this model"], strict=True))
    cells: dict[tuple[str, int, int], list[int]] = {}
    for g in gold:
        if g["id"] in model_by_id:
            predicted = int(model_by_id[g["id"]])
        else:  # partial/skip rows were not scored above
            predicted = int(detector.predict_proba([rows[g["id"]]["text"]])[0] >= args.threshold)
        key = (g["stratum"], int(rows[g["id"]]["label"]), predicted)
        column = {0: 0, 1: 1}.get(g["label"], 2)  # type: ignore[call-overload]
        cells.setdefault(key, [0, 0, 0])[column] += 1
    for (stratum, label, predicted), counts in sorted(cells.items()):
        print(f"| {stratum} | {label} | {predicted} | {counts[0]} | {counts[1]} | {counts[2]} |")  # noqa: T201
    if args.errors:
        print("\nthis model vs gold (id, source, gold label, score, reader's reason):")  # noqa: T201
        for g, score in zip(binary, scores, strict=True):
            if (score >= args.threshold) != (g["label"] == 1):
                source = rows[g["id"]]["source"]
                line = f"  {g['id']} {source} gold={g['label']} score={score:.3f} {g['reason']}"
                print(line)  # noqa: T201
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
