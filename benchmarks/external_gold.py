"""External gold set: families the corpus never had (Claude, Mistral, Zephyr/R2D2), read blind.

``annotations/external_gold.jsonl`` holds rows of behaviour groups that the corpus build keeps out
of every split (``annotations/external_gold_groups.json``), drawn by
``refusal-detector data gold-draw`` and labelled by readers who saw prompt and response only,
following ../shared/LABELING.md. This scores a model on the binary rows (NORMAL/REJECTION) at the
model's threshold: precision, recall, F1 and AUROC per family and overall, plus the phrase-list
baselines. ``partial`` rows are reported apart (the share the model calls REJECTION); ``skip`` rows
are dropped. The model scores the response alone, as in production. With 839 binary rows a goal
such as ECE <= 0.03 sits inside the sampling noise, so every slice also gets 95% intervals of F1,
AUROC and ECE (bootstrap over rows, resampled within each family; ``--bootstrap 0`` turns it off).
``--scores F`` re-reads the per-row scores of an earlier ``--json F`` instead of running a model.

    python benchmarks/external_gold.py [--model DIR] [--threshold auto|T] [--json F] [--errors]
    python benchmarks/external_gold.py --scores runs/ship.eg.json --threshold 0.5
"""

# ruff: noqa: T201  (a benchmark prints its tables to stdout)
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from refusal_detector.training.baselines import default_baselines
from refusal_detector.training.metrics import auroc, binary_metrics, calibration_metrics

GOLD = Path(__file__).parents[1] / "src/refusal_detector/data/annotations/external_gold.jsonl"


def prf(pred: npt.NDArray[np.bool_], truth: npt.NDArray[np.bool_]) -> dict[str, Any]:
    """Precision, recall, F1 of REJECTION (None where undefined) with the counts behind them."""
    return binary_metrics(truth, pred).as_dict()


def best_f1(truth: npt.NDArray[np.bool_], scores: npt.NDArray[np.float64]) -> tuple[float, float]:
    """(best F1, its threshold) over the observed scores: how much a threshold alone could buy."""
    best = (0.0, 0.5)
    for t in np.unique(scores):
        f1 = prf(scores >= t, truth)["f1"] or 0.0
        if f1 > best[0]:
            best = (f1, float(t))
    return best


def bootstrap_intervals(
    truth: npt.NDArray[np.bool_],
    scores: npt.NDArray[np.float64],
    threshold: float,
    strata: npt.NDArray[np.str_],
    *,
    resamples: int = 1000,
    seed: int = 0,
) -> dict[str, list[float] | None]:
    """95% percentile intervals of F1 (at ``threshold``), AUROC and ECE: rows resampled with
    replacement within each stratum (family), so every resample keeps the families' sizes. A metric
    that is undefined in a resample (no refusal drawn) is left out of that metric's interval."""
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(strata == g) for g in np.unique(strata)]
    draws: dict[str, list[float]] = {"f1": [], "auroc": [], "ece": []}
    for _ in range(resamples):
        index = np.concatenate([rng.choice(g, size=len(g)) for g in groups])
        t, x = truth[index], scores[index]
        f1 = prf(x >= threshold, t)["f1"]
        if f1 is not None:
            draws["f1"].append(f1)
        area = auroc(t, x)
        if area is not None:
            draws["auroc"].append(area)
        draws["ece"].append(calibration_metrics(t, x).ece)
    return {
        name: [round(float(v), 4) for v in np.percentile(values, [2.5, 97.5])] if values else None
        for name, values in draws.items()
    }


def load_gold(path: Path) -> list[dict[str, Any]]:
    """Rows of an external gold file; a clear message if it is missing."""
    if not path.exists():
        raise SystemExit(
            f"error: {path} not found; merge reader labels with "
            "`refusal-detector data gold-merge --labels-dir DIR` first"
        )
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def model_threshold(detector: Any, requested: str) -> tuple[float, str]:
    """The threshold to score at: a number, or ``auto`` (the model's calibrated one, else 0.5)."""
    if requested != "auto":
        return float(requested), "given"
    # detector.threshold raises when there is none; the record says None instead.
    value = detector.calibration.threshold
    if value is not None:
        return float(value), "model (calibration.json)"
    return 0.5, "default 0.5 (model has no calibrated threshold)"


def _saved_scores(
    path: Path, rows: Sequence[dict[str, Any]], requested: str
) -> tuple[npt.NDArray[np.float64], float, str, str]:
    """Scores, threshold, its origin and the model dir from an earlier ``--json`` output."""
    saved = json.loads(path.read_text(encoding="utf-8"))
    by_id = saved.get("scores", {})
    missing = [r["gold_id"] for r in rows if r["gold_id"] not in by_id]
    if missing:
        raise SystemExit(
            f"error: {path} has no score for {len(missing)} gold rows (e.g. {missing[0]}); "
            "score the current gold file with a model instead"
        )
    scores = np.array([by_id[r["gold_id"]] for r in rows], dtype=np.float64)
    if requested == "auto":
        threshold = float(saved["threshold"])
        origin = str(saved.get("threshold_origin", f"as in {path}"))
    else:
        threshold, origin = float(requested), "given"
    return scores, threshold, origin, str(saved.get("model_dir"))


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def evaluate(
    rows: Sequence[dict[str, Any]],
    scores: npt.NDArray[np.float64],
    threshold: float,
    *,
    resamples: int = 1000,
) -> dict[str, Any]:
    """Per-family and overall figures of the model and the baselines on the binary rows."""
    binary = [i for i, r in enumerate(rows) if r["label"] in (0, 1)]
    truth = np.array([rows[i]["label"] == 1 for i in binary], dtype=bool)
    s = scores[binary]
    texts = [rows[i]["response"] for i in binary]
    families = np.array([rows[i]["family"] for i in binary])
    strata = np.array([rows[i].get("stratum", "") for i in binary])
    baselines = {b.name: b.predict(texts) for b in default_baselines()}
    out: dict[str, Any] = {"threshold": threshold, "slices": {}, "baselines": {}}
    slices = [("overall", np.ones(len(binary), dtype=bool))]
    slices += [(f"family={f}", families == f) for f in sorted(set(families))]
    slices += [(f"lf_stratum={t}", strata == t) for t in sorted(set(strata)) if t]
    for name, mask in slices:
        entry = prf(s[mask] >= threshold, truth[mask])
        entry["auroc"] = auroc(truth[mask], s[mask])
        entry["best_f1"], entry["best_threshold"] = best_f1(truth[mask], s[mask])
        entry["ece"] = calibration_metrics(truth[mask], s[mask]).ece
        if resamples:
            entry["interval_95"] = bootstrap_intervals(
                truth[mask], s[mask], threshold, families[mask], resamples=resamples
            )
        out["slices"][name] = entry
        out["baselines"][name] = {
            b: prf(pred[mask], truth[mask])["f1"] for b, pred in baselines.items()
        }
    partial = [i for i, r in enumerate(rows) if r["label"] == "partial"]
    out["partial"] = {
        "n": len(partial),
        "called_rejection": int((scores[partial] >= threshold).sum()) if partial else 0,
    }
    out["skipped"] = sum(1 for r in rows if r["label"] == "skip")
    return out


def print_tables(result: dict[str, Any]) -> None:
    """Markdown tables: the model per slice, then the baselines' F1 per slice."""
    names = list(next(iter(result["baselines"].values())))
    print(
        f"threshold {result['threshold']:.3f} ({result['threshold_origin']}); "
        f"{result['partial']['n']} partial rows ({result['partial']['called_rejection']} "
        f"called REJECTION), {result['skipped']} skipped\n"
    )
    head = "| slice | n | refusals | precision | recall | F1 | AUROC | ECE | best F1 (thr) | "
    print(head + " | ".join(f"{n} F1" for n in names) + " |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|" + "---:|" * len(names))
    for name, m in result["slices"].items():
        base = " | ".join(_fmt(result["baselines"][name][b]) for b in names)
        print(
            f"| {name} | {m['n']} | {m['refusals']} | {_fmt(m['precision'])} | "
            f"{_fmt(m['recall'])} | {_fmt(m['f1'])} | {_fmt(m['auroc'])} | {m['ece']:.3f} | "
            f"{m['best_f1']:.3f} ({m['best_threshold']:.2f}) | {base} |"
        )
    intervals = {n: m["interval_95"] for n, m in result["slices"].items() if "interval_95" in m}
    if intervals:
        print("\n95% intervals (bootstrap within families):\n")
        print("| slice | F1 | AUROC | ECE |")
        print("|---|---|---|---|")
        for name, iv in intervals.items():
            cells = " | ".join(
                "-" if iv[k] is None else f"{iv[k][0]:.3f}-{iv[k][1]:.3f}"
                for k in ("f1", "auroc", "ece")
            )
            print(f"| {name} | {cells} |")


def add_window_options(parser: argparse.ArgumentParser) -> None:
    """``--window-align`` and ``--window-stride``: how the detector cuts long texts."""
    parser.add_argument(
        "--window-align",
        default="tokens",
        choices=("sentences", "tokens"),
        help="how long texts are cut into windows (the detector's window_align; default tokens)",
    )
    parser.add_argument(
        "--window-stride",
        type=int,
        default=None,
        help="tokens between window starts (default: the detector's, a quarter-window overlap)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="model dir (default: shipped)")
    parser.add_argument("--backend", default="onnx", choices=("onnx", "torch"))
    parser.add_argument("--gold", type=Path, default=GOLD, help="external_gold.jsonl")
    parser.add_argument("--threshold", default="auto", help="auto (the model's) or a number")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    add_window_options(parser)
    parser.add_argument("--errors", action="store_true", help="list the model's errors")
    parser.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        metavar="N",
        help="resamples for the 95%% intervals (default 1000; 0: none)",
    )
    parser.add_argument(
        "--scores",
        type=Path,
        default=None,
        metavar="JSON",
        help="re-read per-row scores from an earlier --json output instead of running a model",
    )
    args = parser.parse_args(argv)
    rows = load_gold(args.gold)
    if not rows:
        print(f"error: {args.gold} has no rows", file=sys.stderr)
        return 2

    if args.scores is not None:
        scores, threshold, origin, model_dir = _saved_scores(args.scores, rows, args.threshold)
    else:
        from refusal_detector import RefusalDetector

        detector = RefusalDetector.from_pretrained(
            args.model,
            backend=args.backend,
            window_align=args.window_align,
            window_stride=args.window_stride,
        )
        threshold, origin = model_threshold(detector, args.threshold)
        texts = [r["response"] for r in rows]
        scores = np.asarray(detector.predict_proba(texts), dtype=np.float64)
        model_dir = str(detector.model_dir)
    result = evaluate(rows, scores, threshold, resamples=args.bootstrap)
    result |= {
        "threshold_origin": origin,
        "model_dir": model_dir,
        "gold": str(args.gold),
        "rows": len(rows),
        "scores": {r["gold_id"]: float(x) for r, x in zip(rows, scores, strict=True)},
    }
    print_tables(result)
    if args.errors:
        print("\nerrors (gold_id, family, gold label, score, reader's reason):")
        for r, score in zip(rows, scores, strict=True):
            if r["label"] in (0, 1) and (score >= threshold) != (r["label"] == 1):
                print(
                    f"  {r['gold_id']} {r['family']} gold={r['label']} "
                    f"score={score:.3f} {r['reason']}"
                )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
