"""Leave-one-family-out: how well does the recipe detect refusals of an LLM family it never saw?

For each held-out family: drop every row of that family from train and validation, fine-tune the
base model briefly on the rest (stratified sample), then score the family's validation + test rows
(none of which the run saw) through RefusalDetector. Prints a table and writes JSON that the model
card generator reads (``refusal-detector card --lofo PATH``). Results are appended family by family,
so an interrupted run keeps what it finished.

    python benchmarks/lofo.py --data build/corpus --out runs/lofo.json --work-dir runs/lofo

By default each family gets one training round. ``--rounds 3 --seeds 42,42,43`` repeats the recipe,
each round starting from the previous round's weights (as ``scripts/reproduce_shipped_model.sh``
trains the shipped model), so the held-out figure measures the shipped recipe, not only its first
round. Every round checkpoints; rerun the same command after a kill and it resumes (a finished
round is kept).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shlex
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

from refusal_detector.cli_options import to_argv
from refusal_detector.training.dataset import (
    Example,
    capped_train_rows,
    load_examples,
    resolve_split,
)
from refusal_detector.training.metrics import auroc, binary_metrics


def _write_split(path: Path, examples: list[Example]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for e in examples:
            row = {
                "id": e.id,
                "text": e.text,
                "label": e.label,
                "source": e.source,
                "family": e.family,
                "model": e.model,
                "license": e.license,
            }
            handle.write(json.dumps(row) + "\n")


def largest_families(data: Path, count: int) -> list[str]:
    """The ``count`` families with the most training rows that have refusals to score on."""
    train = Counter(e.family for e in load_examples(resolve_split(data, "train")))
    held = load_examples(resolve_split(data, "validation")) + load_examples(
        resolve_split(data, "test")
    )
    refusals = Counter(e.family for e in held if e.label == 1)
    ranked = [f for f, _ in train.most_common() if f != "unknown" and refusals[f] >= 20]
    return ranked[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, default=Path("runs/lofo"))
    parser.add_argument("--families", default=None, help="comma-separated (default: 5 largest)")
    parser.add_argument("--count", type=int, default=5)
    parser.add_argument("--base-model", default=None)
    parser.add_argument("--max-train-samples", type=int, default=1200)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--warmup-steps", type=int, default=10)
    parser.add_argument(
        "--batch-size", type=int, default=16, help="as train --batch-size (the shipped recipe: 32)"
    )
    parser.add_argument("--backend", default="torch", choices=("torch", "onnx"))
    parser.add_argument(
        "--include-capped",
        action="store_true",
        help="also train on the corpus's capped rows (balanced_out.jsonl, train split), as the "
        "shipped recipe does; the held-out family is dropped from them too",
    )
    parser.add_argument(
        "--mid-windows", type=float, default=0.0, help="as train --mid-windows (default: 0)"
    )
    parser.add_argument(
        "--refusal-share", type=float, default=None, help="as train --refusal-share (default: off)"
    )
    parser.add_argument(
        "--sample-by",
        default="source,family,label",
        help="as train --sample-by (default: source,family,label)",
    )
    parser.add_argument("--permissive-only", action="store_true", help="as train --permissive-only")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="train the recipe this many times per family, each round from the previous round's "
        "weights (the shipped model: 3)",
    )
    parser.add_argument(
        "--seeds",
        default=None,
        help="comma-separated seed per round (default: 42 for every round; the shipped model: "
        "42,42,43)",
    )
    parser.add_argument(
        "--score",
        default="windows",
        choices=("windows", "first-window"),
        help="windows: predict_proba as users get it (max over overlapping windows); "
        "first-window: only the first max_length tokens, as the model was trained (much faster)",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be >= 1, got {args.rounds}")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [42] * args.rounds
    if len(seeds) != args.rounds:
        parser.error(f"--seeds gives {len(seeds)} seeds for {args.rounds} rounds")

    from refusal_detector.detector import RefusalDetector
    from refusal_detector.training.config import TrainConfig
    from refusal_detector.training.train import train

    families = (
        args.families.split(",") if args.families else largest_families(args.data, args.count)
    )
    train_all = load_examples(resolve_split(args.data, "train"))
    if args.include_capped:
        train_all += capped_train_rows(args.data, None)
    val_all = load_examples(resolve_split(args.data, "validation"))
    test_all = load_examples(resolve_split(args.data, "test"))
    settings = {
        "max_train_samples": args.max_train_samples,
        "max_length": args.max_length,
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "warmup_steps": args.warmup_steps,
        "scored_on": "held-out family's validation + test rows",
        "score": args.score,
        "include_capped": args.include_capped,
        "mid_windows": args.mid_windows,
    }
    # Only non-default recipe settings enter the fingerprint, so older results stay reusable.
    if args.refusal_share is not None:
        settings["refusal_share"] = args.refusal_share
    if args.sample_by != "source,family,label":
        settings["sample_by"] = args.sample_by
    if args.permissive_only:
        settings["permissive_only"] = True
    if args.batch_size != 16:
        settings["batch_size"] = args.batch_size
    if args.rounds != 1:
        settings["rounds"] = args.rounds
    if seeds != [42] * args.rounds:
        settings["seeds"] = seeds
    # the model card's Reproduce section prints this line (written from the parser: no drift)
    command = shlex.join(["python", "benchmarks/lofo.py", *to_argv(parser, vars(args))])
    result: dict[str, object] = {"settings": settings, "command": command, "families": {}}
    if args.out.is_file():
        previous = json.loads(args.out.read_text(encoding="utf-8"))
        if previous.get("settings") == settings:
            result = previous | {"command": command}
    done: dict[str, object] = result["families"]  # type: ignore[assignment]
    for family in families:
        if family in done:
            continue
        started = time.time()
        work = args.work_dir / family
        corpus = work / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        _write_split(corpus / "train.jsonl", [e for e in train_all if e.family != family])
        _write_split(corpus / "validation.jsonl", [e for e in val_all if e.family != family])
        model_dir = work / "model"
        # Never resume a checkpoint left by a run on other data or settings: fingerprint both.
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
        for name in ("train.jsonl", "validation.jsonl"):
            digest.update((corpus / name).read_bytes())
        stamp = work / "fingerprint.txt"
        if not stamp.is_file() or stamp.read_text() != digest.hexdigest():
            for stale in [model_dir, *work.glob("round-*")]:
                if stale.exists():
                    shutil.rmtree(stale)
        stamp.write_text(digest.hexdigest())
        configs: list[TrainConfig] = []
        for number, seed in enumerate(seeds, start=1):
            last = number == len(seeds)
            configs.append(
                TrainConfig(
                    data=corpus,
                    output_dir=model_dir if last else work / f"round-{number}",
                    base_model=(args.base_model if number == 1 else str(configs[-1].output_dir)),
                    max_length=args.max_length,
                    max_train_samples=args.max_train_samples,
                    max_eval_samples=100,
                    mid_windows=args.mid_windows,
                    refusal_share=args.refusal_share,
                    sample_by=tuple(args.sample_by.split(",")),
                    permissive_only=args.permissive_only,
                    num_train_epochs=args.epochs,
                    learning_rate=args.learning_rate,
                    warmup_steps=args.warmup_steps,
                    per_device_train_batch_size=args.batch_size,
                    seed=seed,
                    save_steps=50,
                    save_total_limit=2,
                    logging_steps=20,
                    group_by_length=True,
                    track_emissions=False,
                    disable_tqdm=True,
                    resume=True,
                )
            )
        for config in configs:
            if not (config.output_dir / "training_log.json").is_file():  # else finished: kept
                train(config)
        log = json.loads((model_dir / "training_log.json").read_text(encoding="utf-8"))
        train_examples = log["train_examples"] + log["mid_window_examples"]
        held = [e for e in val_all + test_all if e.family == family]
        detector = RefusalDetector.from_pretrained(model_dir, backend=args.backend)
        texts = [e.text for e in held]
        if args.score == "windows":
            scores = detector.predict_proba(texts)
        else:
            scores = detector.score_token_sequences(detector.encode(texts))
        m = binary_metrics([e.label for e in held], scores >= 0.5)
        done[family] = {
            **m.as_dict(),
            "auroc": auroc([e.label for e in held], scores),
            "train_examples": train_examples,
            # this family's runs as train commands (on the corpus lofo wrote for it), round by round
            "train_command": " && ".join(
                shlex.join(["refusal-detector", "train", *c.to_cli_args()]) for c in configs
            ),
            "minutes": round((time.time() - started) / 60, 1),
        }
        args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(  # noqa: T201
            f"{family}: n {m.n} refusals {m.refusals} F1 {m.f1} ({done[family]['minutes']} min)",  # type: ignore[index]
            file=sys.stderr,
            flush=True,
        )
    print("| held-out family | n | refusals | precision | recall | F1 | AUROC |")  # noqa: T201
    print("|---|---:|---:|---:|---:|---:|---:|")  # noqa: T201
    for family, r in done.items():
        r = dict(r)  # type: ignore[call-overload]
        print(  # noqa: T201
            f"| {family} | {r['n']} | {r['refusals']} | {r['precision']} | {r['recall']} "
            f"| {r['f1']} | {r.get('auroc')} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
