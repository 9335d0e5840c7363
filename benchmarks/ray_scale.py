"""Rows per second of ``predict --engine ray`` with 1 and 2 workers, beside the local engine.

All runs score the same JSONL file (``--rows`` rows cycled from the hand-written evaluation texts,
short to medium answers) with the shipped model and write JSONL:

- ``local, 1 thread``: ``predict_file`` with ONNX Runtime on one thread: the per-core rate;
- ``local, default threads``: ``predict_file`` as the CLI runs it (ONNX Runtime picks the threads);
- ``ray, N workers``: ``predict_ray`` on a local Ray with ``--cpus`` CPUs and N one-CPU actors.
  Ray's start-up is timed apart; a run's time covers the whole job (actor start and model load,
  reading, scoring, writing), as a user sees it.

    python benchmarks/ray_scale.py                  # 6,000 rows, markdown table on stdout
    python benchmarks/ray_scale.py --rows 20000 --json runs/ray_scale.json

Timings are wall-clock and depend on the machine and its load: compare rows of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ROOT / "src/refusal_detector/data/annotations/partial_eval.jsonl"


def write_input(path: Path, rows: int) -> None:
    with TEXTS.open(encoding="utf-8") as f:
        texts = [json.loads(line)["text"] for line in f if line.strip()]
    with path.open("w", encoding="utf-8") as f:
        for i in range(rows):
            f.write(json.dumps({"id": i, "text": texts[i % len(texts)]}) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=6000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--chunk-rows", type=int, default=250, help="rows per chunk (one Ray row; a unit of work)"
    )
    parser.add_argument("--cpus", type=int, default=os.cpu_count() or 2, help="local Ray CPUs")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    from refusal_detector import RefusalDetector
    from refusal_detector.io import predict_file
    from refusal_detector.scale import connect, predict_ray

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "in.jsonl"
        write_input(source, args.rows)
        for label, threads in (("local, 1 thread", 1), ("local, default threads", None)):
            detector = RefusalDetector.from_pretrained(num_threads=threads)
            start = time.perf_counter()
            out_file = Path(tmp) / f"local-{threads}.jsonl"
            predict_file(detector, source, out_file, chunk_rows=args.chunk_rows)
            results.append({"run": label, "cpus": threads or os.cpu_count(), **_rate(args, start)})

        start = time.perf_counter()
        connect(num_cpus=args.cpus)
        import ray.data

        ray.data.DataContext.get_current().enable_progress_bars = False
        startup = time.perf_counter() - start
        for workers in args.workers:
            start = time.perf_counter()
            out = Path(tmp) / f"ray-{workers}"
            summary = predict_ray(
                str(source), out, fmt="jsonl", num_workers=workers, chunk_rows=args.chunk_rows
            )
            assert summary.rows == args.rows, summary
            run = {"run": f"ray, {workers} worker{'s' if workers > 1 else ''}", "cpus": workers}
            results.append({**run, **_rate(args, start)})

    sys.stdout.write(f"{args.rows:,} rows, shipped model, Ray start-up {startup:.1f} s\n\n")
    sys.stdout.write("| run | CPUs | seconds | rows/s | rows/s per CPU |\n")
    sys.stdout.write("|---|---:|---:|---:|---:|\n")
    for r in results:
        per_cpu = r["rows_per_s"] / r["cpus"]
        sys.stdout.write(
            f"| {r['run']} | {r['cpus']} | {r['seconds']:.1f} | {r['rows_per_s']:.0f} "
            f"| {per_cpu:.0f} |\n"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        record = {"rows": args.rows, "ray_startup_s": startup, "results": results}
        args.json.write_text(json.dumps(record, indent=1) + "\n")
    return 0


def _rate(args: argparse.Namespace, start: float) -> dict[str, float]:
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows_per_s": args.rows / seconds}


if __name__ == "__main__":
    raise SystemExit(main())
