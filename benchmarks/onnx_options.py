"""ONNX Runtime session options on the shipped int8 model: threads, spinning, optimisation level.

Every combination of intra-op threads (1 and the number of cores), intra-op spinning (on, off) and
graph optimisation level (basic, extended, all) gets its own session of the same model; the
combinations are timed interleaved in one process (each round runs every combination once, in a
rotating order), so they compare under the same load. Per combination: single short-text latency
p50/p99 (ms, through ``RefusalDetector.predict_proba``, as users call it), rows/s of a 256-text
batch of short texts and of 32 ~400-token texts.

    python benchmarks/onnx_options.py [--model DIR] [--rounds 5]
"""

# ruff: noqa: T201  (a benchmark prints its table to stdout)
from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from refusal_detector.backends.onnx import DISABLED_OPTIMIZERS
from refusal_detector.detector import RefusalDetector

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from long_outputs import PARAGRAPHS  # noqa: E402

SHORT = "I'm sorry, but I can't help with that request."
LEVELS = {
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


def session(path: str, threads: int, spin: bool, level: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = LEVELS[level]
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
    # the graph optimisers the detector turns off stay off here, so each row measures what users get
    return ort.InferenceSession(
        path,
        sess_options=options,
        providers=["CPUExecutionProvider"],
        disabled_optimizers=list(DISABLED_OPTIMIZERS),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=None, help="model dir (default: shipped)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--single", type=int, default=100, help="single-text calls per round")
    args = parser.parse_args(argv)

    detector = RefusalDetector.from_pretrained(args.model, backend="onnx")
    backend = detector.backend
    path = str(backend.model_path)  # type: ignore[attr-defined]
    cores = os.cpu_count() or 1
    combos = list(itertools.product(sorted({1, cores}), (True, False), LEVELS))
    sessions = {c: session(path, *c) for c in combos}
    sentences = [s.strip() + "." for p in PARAGRAPHS for s in p.split(". ") if s.strip()]
    long_text = " ".join(itertools.islice(itertools.cycle(sentences), 24))
    short, long = [SHORT] * 256, [long_text] * 32
    single: dict[tuple[int, bool, str], list[float]] = {c: [] for c in combos}
    short_rps: dict[tuple[int, bool, str], list[float]] = {c: [] for c in combos}
    long_rps: dict[tuple[int, bool, str], list[float]] = {c: [] for c in combos}
    for round_ in range(args.rounds):
        order = combos[round_ % len(combos) :] + combos[: round_ % len(combos)]
        for combo in order:
            backend.session = sessions[combo]  # type: ignore[attr-defined]
            detector.predict_proba([SHORT])
            for _ in range(args.single):
                start = time.perf_counter()
                detector.predict_proba([SHORT])
                single[combo].append(time.perf_counter() - start)
            start = time.perf_counter()
            detector.predict_proba(short)
            short_rps[combo].append(len(short) / (time.perf_counter() - start))
            start = time.perf_counter()
            detector.predict_proba(long)
            long_rps[combo].append(len(long) / (time.perf_counter() - start))
    print(f"model {path}; {cores} cores; {args.rounds} rounds, interleaved\n")
    print(
        "| threads | spinning | graph level | single p50 ms | single p99 ms | short rows/s "
        "| ~400 tokens rows/s |"
    )
    print("|---:|---|---|---:|---:|---:|---:|")
    for combo in combos:
        ms = np.asarray(single[combo]) * 1000
        threads, spin, level = combo
        print(
            f"| {threads} | {'on' if spin else 'off'} | {level} | {np.percentile(ms, 50):.2f} "
            f"| {np.percentile(ms, 99):.2f} | {statistics.median(short_rps[combo]):.0f} "
            f"| {statistics.median(long_rps[combo]):.1f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
