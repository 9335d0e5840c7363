"""Static int8 quantisation (activation scales calibrated on data) against the shipped dynamic int8.

Issue 13 asks to try static quantisation with calibration data and keep it only if it passes the
export's quality check. This exports the model's fp32 graph to a scratch copy of the model
directory and quantises it four ways:

- ``dynamic``: what ``refusal-detector export`` ships (``quantize_int8``: int8 weights per
  channel, activation scales computed per batch at run time), on the fused graph;
- ``static-qdq-minmax`` / ``static-qdq-percentile``: ``onnxruntime.quantization.quantize_static``
  in QDQ format, u8 activations x s8 weights per channel (the VNNI product), activation ranges from
  MinMax or the 99.999th percentile over ``--calib`` training-split texts (never the validation rows
  it is then judged on), on the unfused graph (the fused graph's ``com.microsoft`` attention has no
  static quantiser);
- ``static-qop-minmax``: the same in the QOperator format (``QLinearMatMul``).

Each file is judged with ``validate_int8`` (agreement with fp32 and F1 drop on ``--n`` validation
rows, the export's bounds) and timed in this process, interleaved: rows/s for a batch of short
texts and of ~400-token texts, and single short-text p50. Results go to stdout as one table.

    python benchmarks/static_int8.py --data CORPUS_DIR [--model DIR] [--calib 256] [--n 2000]
        [--variants qdq-minmax,qop-minmax]
"""

# ruff: noqa: T201  (a benchmark prints its table to stdout)
from __future__ import annotations

import argparse
import dataclasses
import itertools
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from refusal_detector.backends.onnx import OnnxBackend
from refusal_detector.detector import RefusalDetector, default_model_dir
from refusal_detector.errors import ExportValidationError
from refusal_detector.model_dir import ONNX_FILE
from refusal_detector.training.dataset import load_examples, resolve_split, stratified_sample
from refusal_detector.training.export import export_onnx
from refusal_detector.training.quantize import quantize_int8, validate_int8

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from long_outputs import PARAGRAPHS  # noqa: E402

STATIC_VARIANTS = ("qdq-minmax", "qdq-percentile", "qop-minmax")
SHORT = "I'm sorry, but I can't help with that request."


def _widen(batch: dict[str, Any], detector: RefusalDetector) -> dict[str, Any]:
    """``batch`` padded on the right to ``detector.max_length`` columns (pad id, mask 0)."""
    extra = detector.max_length - batch["input_ids"].shape[1]
    fill = {"input_ids": detector.pad_id, "attention_mask": 0, "token_type_ids": 0}
    return {k: np.pad(v, ((0, 0), (0, extra)), constant_values=fill[k]) for k, v in batch.items()}


class _Reader:
    """``CalibrationDataReader`` over padded token batches of the detector's own tokenisation."""

    def __init__(self, detector: RefusalDetector, texts: Sequence[str], batch: int = 16) -> None:
        windows = [w for per in detector.window_ids(list(texts)) for w in per]
        batches = [windows[i : i + batch] for i in range(0, len(windows), batch)]
        # Every batch padded to the full window: the percentile calibrator stacks activations
        # across batches, so their shapes must agree.
        self._feeds: Iterator[dict[str, Any]] = (
            _widen(detector.model_inputs(b), detector) for b in batches if len(b) == batch
        )

    def get_next(self) -> dict[str, Any] | None:
        return next(self._feeds, None)


def quantize_static_int8(fp32: Path, out: Path, reader: _Reader, *, fmt: str, method: str) -> Path:
    """One static int8 variant of ``fp32`` at ``out``."""
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = out.with_name(out.stem + ".pre.onnx")
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    quantize_static(
        str(prepared),
        str(out),
        reader,
        quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        calibrate_method=(
            CalibrationMethod.Percentile if method == "percentile" else CalibrationMethod.MinMax
        ),
        op_types_to_quantize=["MatMul", "Gemm"],
        extra_options={"CalibPercentile": 99.999} if method == "percentile" else {},
    )
    prepared.unlink(missing_ok=True)
    return out


def _timed(fn: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``fn`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def speed(detector: RefusalDetector, path: Path, repeats: int) -> dict[str, float]:
    """Rows/s on 256 short and 32 ~400-token texts, single short-text p50 (ms)."""
    detector.backend = OnnxBackend(path)
    short = [SHORT] * 256
    sentences = [s.strip() + "." for p in PARAGRAPHS for s in p.split(". ") if s.strip()]
    long_text = " ".join(itertools.islice(itertools.cycle(sentences), 24))
    long = [long_text] * 32
    detector.predict_proba(short[:32])  # warm-up
    single = []
    for _ in range(200):
        start = time.perf_counter()
        detector.predict_proba([SHORT])
        single.append(time.perf_counter() - start)
    return {
        "short_rps": len(short) / _timed(lambda: detector.predict_proba(short), repeats),
        "long_rps": len(long) / _timed(lambda: detector.predict_proba(long), repeats),
        "p50_ms": 1000 * statistics.median(single),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", type=Path, default=None, help="torch model dir (default shipped)"
    )
    parser.add_argument("--data", type=Path, required=True, help="corpus dir (train + validation)")
    parser.add_argument("--calib", type=int, default=256, help="calibration texts (train split)")
    parser.add_argument("--n", type=int, default=2000, help="validation rows for the quality check")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-agreement", type=float, default=0.995)
    parser.add_argument("--max-f1-drop", type=float, default=0.003)
    parser.add_argument(
        "--variants",
        default="qdq-minmax,qop-minmax",
        help="static variants, comma-separated among "
        + ", ".join(STATIC_VARIANTS)
        + " (qdq-percentile keeps a histogram of every activation: slow, >10 min on 2 cores)",
    )
    args = parser.parse_args(argv)
    chosen = [v for v in str(args.variants).split(",") if v]
    unknown = sorted(set(chosen) - set(STATIC_VARIANTS))
    if unknown:
        parser.error(f"unknown --variants {unknown}; choose among {', '.join(STATIC_VARIANTS)}")

    source = args.model or default_model_dir()
    with tempfile.TemporaryDirectory(prefix="static-int8-") as tmp_name:
        work = Path(tmp_name) / "model"
        shutil.copytree(source, work, ignore=shutil.ignore_patterns("onnx", "checkpoints"))
        unfused = export_onnx(work, fuse=False)
        plain = unfused.with_name("plain.onnx")
        unfused.rename(plain)
        fp32 = export_onnx(work)  # fused: the reference and the dynamic variant's input
        detector = RefusalDetector.from_pretrained(work, backend="onnx")
        train = load_examples(resolve_split(args.data, "train"))
        calib = stratified_sample(train, max_total=args.calib)
        examples = stratified_sample(
            load_examples(resolve_split(args.data, "validation")), max_total=args.n
        )
        variants: dict[str, Path] = {"fp32 (fused)": fp32}
        variants["dynamic (shipped kind)"] = quantize_int8(
            fp32, fp32.with_name("dynamic.onnx"), per_channel=True
        )
        for variant in chosen:
            fmt, method = variant.split("-")
            name = f"static-{variant}"
            try:
                reader = _Reader(detector, [e.text for e in calib])
                variants[name] = quantize_static_int8(
                    plain, plain.with_name(f"{name}.onnx"), reader, fmt=fmt, method=method
                )
            except Exception as exc:  # report a quantiser failure as a row, keep the others
                print(f"{name}: quantisation failed: {exc}", file=sys.stderr)
        rows = []
        for name, path in variants.items():
            if path == fp32:
                quality: dict[str, Any] = {"agreement": 1.0, "f1_int8": None, "f1_drop": 0.0}
                ok = "-"
            else:
                report = validate_int8(
                    work, path, examples, min_agreement=0.0, max_f1_drop=1.0, per_channel=True
                )
                quality = dataclasses.asdict(report)
                passed = (
                    report.agreement >= args.min_agreement and report.f1_drop <= args.max_f1_drop
                )
                ok = "yes" if passed else "no"
            timing = speed(detector, path, args.repeats)
            rows.append((name, path.stat().st_size, quality, ok, timing))
        assert (work / ONNX_FILE).exists()
    print(f"model {source}; quality on {len(examples)} validation rows of {args.data}; ")
    print(f"bounds: agreement >= {args.min_agreement}, F1 drop <= {args.max_f1_drop}\n")
    print(
        "| variant | MB | agreement | F1 drop | passes | short rows/s | ~400 tok rows/s | p50 ms |"
    )
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for name, size, q, ok, s in rows:
        print(
            f"| {name} | {size / 1e6:.1f} | {q['agreement']:.4f} | {q['f1_drop']:+.4f} | {ok} "
            f"| {s['short_rps']:.0f} | {s['long_rps']:.1f} | {s['p50_ms']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except ExportValidationError as exc:
        raise SystemExit(f"error: {exc}") from exc
