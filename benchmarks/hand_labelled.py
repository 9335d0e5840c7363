"""Binary quality on the hand-written set: full refusals vs compliant answers, beside the baselines.

``src/refusal_detector/data/annotations/partial_eval.jsonl`` holds hand-written responses with a
three-way ``verdict``; this benchmark keeps ``full_refusal`` (label 1) and ``compliance`` (label 0)
and leaves ``partial_refusal`` out (the binary model has no partial class; see
benchmarks/partial_refusals.py for that). None of these texts is in the training corpus. Prints the
overall table (model and phrase baselines), then the misclassified styles.

    python benchmarks/hand_labelled.py [--model DIR] [--backend onnx|torch] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from refusal_detector.training.baselines import default_baselines
from refusal_detector.training.dataset import Example
from refusal_detector.training.evaluate import evaluate_scores
from refusal_detector.training.report import baseline_table

SET = Path(__file__).parents[1] / "src/refusal_detector/data/annotations/partial_eval.jsonl"
LABELS = {"compliance": 0, "full_refusal": 1}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--backend", default="onnx", choices=("onnx", "torch"))
    parser.add_argument("--data", type=Path, default=SET)
    parser.add_argument("--json", type=Path, default=None, help="write the report JSON here")
    args = parser.parse_args(argv)

    from refusal_detector import RefusalDetector

    rows = [json.loads(line) for line in args.data.read_text(encoding="utf-8").splitlines()]
    kept = [r for r in rows if r["verdict"] in LABELS]
    examples = [
        Example(text=r["text"], label=LABELS[r["verdict"]], source=r["style"], family="hand")
        for r in kept
    ]
    detector = RefusalDetector.from_pretrained(args.model, backend=args.backend)
    scores = detector.predict_proba([e.text for e in examples])
    report = evaluate_scores(
        examples,
        scores,
        by=("source",),
        baselines=default_baselines(),
        meta={
            "model_dir": str(detector.model_dir),
            "backend": detector.backend_name,
            "data": str(args.data),
        },
    )
    print(f"hand-written set: {len(examples)} of {len(rows)} rows (partial refusals left out)")  # noqa: T201
    print(baseline_table(report))  # noqa: T201
    print("\nmisclassified (style, label, score):")  # noqa: T201
    for e, s in zip(examples, scores, strict=True):
        if (s >= 0.5) != bool(e.label):
            print(f"- {e.source}: label {e.label}, P(refusal) {s:.3f}")  # noqa: T201
    if args.json:
        data = report.to_json()
        data["scores"] = [round(float(s), 4) for s in np.asarray(scores)]
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
