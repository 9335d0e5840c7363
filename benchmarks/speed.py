"""Speed and memory: ONNX int8 (the default) vs ONNX fp32 vs torch vs a transformers pipeline.

Each configuration runs in its own fresh Python process, so that its load time, imports and peak
memory (max RSS) are its own. All of them score the same texts with the same model weights:

- ``onnx-int8``: ``RefusalDetector(backend="onnx")`` on the shipped directory (what the package
  uses; no torch import);
- ``onnx-fp32``: the same weights exported to fp32 ONNX in a temporary copy of the directory;
- ``torch``: ``RefusalDetector(backend="torch")`` (fp32 on CPU);
- ``pipeline``: the original card's usage, ``transformers.pipeline("text-classification",
  truncation=True, max_length=...)`` - the baseline. It truncates long texts, so on long texts it
  does less work and misses buried refusals (see benchmarks/long_outputs.py).

Workloads: short texts (the hand-written evaluation set, one window each) in batches of
``--batch-size`` and one at a time (latency), and long texts (about ``--long-tokens`` tokens,
scored over overlapping windows by the detector, truncated by the pipeline).

    python benchmarks/speed.py                       # shipped model, markdown table on stdout
    python benchmarks/speed.py --threads 2 --repeats 3 --json runs/speed.json

Timings are wall-clock medians of ``--repeats`` runs; they depend on the machine and its load, so
compare rows of one run, not figures across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ROOT / "src/refusal_detector/data/annotations/partial_eval.jsonl"
CONFIGS = ("onnx-int8", "onnx-fp32", "torch", "pipeline")
PARAGRAPH = (
    "Start by choosing a sunny spot that gets at least six hours of direct light each day. Test "
    "the soil first; most vegetables prefer a pH between 6.0 and 7.0. Water deeply twice a week "
    "rather than a little every day, so that the roots grow down instead of staying shallow. "
)


def short_texts() -> list[str]:
    with TEXTS.open(encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def long_texts(n: int, tokens: int) -> list[str]:
    # about 60 tokens per paragraph; the refusal sits in the middle of every text
    k = max(1, tokens // 60)
    body = [PARAGRAPH] * k
    body.insert(k // 2, "I'm sorry, but I can't help with the next part of your request. ")
    return [f"Text {i}. " + "".join(body) for i in range(n)]


def _median_time(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def worker(config: str, model: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Runs in a fresh process: load one configuration and time the workloads."""
    start = time.perf_counter()
    if config == "pipeline":
        import torch
        from transformers import pipeline

        torch.set_num_threads(args.threads)
        clf = pipeline(
            "text-classification",
            model=str(model),
            truncation=True,
            max_length=args.max_length,
            device=-1,
        )

        def score(texts: list[str], batch_size: int) -> None:
            clf(texts, batch_size=batch_size)

    else:
        from refusal_detector import RefusalDetector

        backend = "torch" if config == "torch" else "onnx"
        if backend == "torch":
            import torch

            torch.set_num_threads(args.threads)
        detector = RefusalDetector.from_pretrained(
            model, backend=backend, batch_size=args.batch_size
        )

        def score(texts: list[str], batch_size: int) -> None:
            detector.batch_size = batch_size
            detector.predict_proba(texts)

    load_s = time.perf_counter() - start
    short = short_texts()
    long = long_texts(args.long_texts, args.long_tokens)
    score(short[:8], args.batch_size)  # warm-up
    short_s = _median_time(lambda: score(short, args.batch_size), args.repeats)
    one = short[: args.latency_texts]
    single_s = _median_time(lambda: [score([t], 1) for t in one], args.repeats)
    long_s = _median_time(lambda: score(long, args.batch_size), args.repeats)
    return {
        "config": config,
        "load_s": load_s,
        "short_texts_per_s": len(short) / short_s,
        "latency_ms_batch1": 1000 * single_s / len(one),
        "long_texts_per_s": len(long) / long_s,
        "peak_rss_mb": peak_rss_mb(),
        "torch_imported": "torch" in sys.modules,
        "n_short": len(short),
        "n_long": len(long),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM belongs to the address space that exec creates,
    unlike getrusage's ru_maxrss, which a child inherits from the parent it was forked from."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text(encoding="utf-8").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare_fp32(model: Path, tmp: Path) -> Path:
    """A copy of ``model`` whose onnx/model.onnx is an fp32 export of its weights."""
    from refusal_detector.training.export import export_onnx

    target = tmp / "fp32"
    shutil.copytree(model, target, ignore=shutil.ignore_patterns("onnx"))
    export_onnx(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--latency-texts", type=int, default=50)
    parser.add_argument("--long-texts", type=int, default=20)
    parser.add_argument("--long-tokens", type=int, default=2000)
    parser.add_argument("--max-length", type=int, default=None, help="pipeline truncation length")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.model is None:
        from refusal_detector.detector import default_model_dir

        args.model = default_model_dir()
    if args.max_length is None:
        config = json.loads((args.model / "tokenizer_config.json").read_text(encoding="utf-8"))
        args.max_length = int(config.get("model_max_length", 512))
    if args.worker:
        print(json.dumps(worker(args.worker, args.model, args)))  # noqa: T201
        return 0

    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM": "false"}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for config in args.configs.split(","):
            model = args.model
            if config == "onnx-fp32":
                model = prepare_fp32(args.model, Path(tmp))
            command = [sys.executable, __file__, "--worker", config, "--model", str(model)]
            for name in ("batch_size", "threads", "repeats", "latency_texts", "long_texts"):
                command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
            command += ["--long-tokens", str(args.long_tokens)]
            command += ["--max-length", str(args.max_length)]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(f"{config} failed:\n{done.stderr[-2000:]}", file=sys.stderr)  # noqa: T201
                continue
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(f"{config}: done", file=sys.stderr)  # noqa: T201

    base = next((r for r in rows if r["config"] == "pipeline"), None)
    n_short = rows[0]["n_short"] if rows else 0
    print(  # noqa: T201
        f"model {args.model.name}, window {args.max_length} tokens, batch {args.batch_size}, "
        f"{args.threads} threads, median of {args.repeats}; short = {n_short} "
        f"hand-written texts, long = {args.long_texts} texts of ~{args.long_tokens} tokens\n"
    )
    print(  # noqa: T201
        "| configuration | load s | short texts/s | vs pipeline | latency ms (batch 1) "
        "| long texts/s | peak RSS MB | imports torch |\n|---|---|---|---|---|---|---|---|"
    )
    for r in rows:
        ratio = f"{r['short_texts_per_s'] / base['short_texts_per_s']:.2f}x" if base else "-"
        print(  # noqa: T201
            f"| {r['config']} | {r['load_s']:.2f} | {r['short_texts_per_s']:.1f} | {ratio} "
            f"| {r['latency_ms_batch1']:.1f} | {r['long_texts_per_s']:.2f} "
            f"| {r['peak_rss_mb']:.0f} | {'yes' if r['torch_imported'] else 'no'} |"
        )
    if base:
        print(  # noqa: T201
            "\nThe pipeline truncates long texts to one window; the detector scores every window "
            "(so its long-text rate counts all windows and finds the buried refusal)."
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
