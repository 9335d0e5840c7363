"""Assemble the shipping layout of a model directory: small enough to live inside the package.

A MiniLM export in fp32 is about 91 MB per copy (safetensors and ONNX), so a directory with both
would break the 100 MB limit. The shipping layout keeps both usage paths at about 70 MB:

    config.json, tokenizer files        as trained (config keeps torch_dtype float32)
    model.safetensors                   the weights stored in float16; transformers upcasts them
                                        to the config's float32 on load
    onnx/model.onnx                     the validated int8 (dynamically quantised) export
    onnx/config.json, tokenizer files   for optimum's ORTModel(subfolder="onnx") and LLM Guard
    training_log.json, emissions.json,  provenance for the model card
    quantization_report.json
    calibration.json                    the folded temperature and chosen threshold, if any (a
                                        temperature folded before export is in both weight files)

Only the fp32 export is checked against torch (``export_onnx``); the int8 file is the one that
passed :func:`~refusal_detector.training.quantize.validate_int8`.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from refusal_detector.errors import ConfigError
from refusal_detector.model_dir import (
    CONFIG_FILE,
    ONNX_FILE,
    ONNX_SUBDIR,
    PROVENANCE_FILES,
    SAFETENSORS_FILE,
    TOKENIZER_FILES,
)

__all__ = ["SHIP_MAX_BYTES", "ShipReport", "directory_bytes", "ship_model"]

logger = logging.getLogger(__name__)

SHIP_MAX_BYTES = 100_000_000


@dataclass(frozen=True)
class ShipReport:
    """Where the shipping directory went and how big it is."""

    out_dir: Path
    total_bytes: int
    files: dict[str, int]


def directory_bytes(path: Path) -> dict[str, int]:
    """Size of every file under ``path``, by relative path."""
    return {
        str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*")) if p.is_file()
    }


def save_fp16_safetensors(source: Path, target: Path) -> None:
    """Copy a safetensors file with every floating-point tensor cast to float16."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(source))
    half = {
        name: t.to(torch.float16) if t.is_floating_point() else t for name, t in tensors.items()
    }
    save_file(half, str(target), metadata={"format": "pt"})


def ship_model(
    model_dir: Path,
    out_dir: Path,
    *,
    int8_path: Path,
    max_bytes: int = SHIP_MAX_BYTES,
) -> ShipReport:
    """Write the shipping layout of ``model_dir`` (with its validated int8 export) to ``out_dir``.

    ``out_dir`` is replaced as a whole: it is built beside itself and renamed into place.

    Raises:
        ConfigError: the result exceeds ``max_bytes`` (nothing is replaced then), or ``out_dir`` is
            ``model_dir`` itself.
    """
    model_dir = Path(model_dir)
    out_dir = Path(out_dir)
    if out_dir.resolve() == model_dir.resolve():
        raise ConfigError(
            f"the shipping directory must differ from the model directory {model_dir}"
        )
    staging = out_dir.with_name(f".{out_dir.name}.staging")
    if staging.exists():
        shutil.rmtree(staging)
    (staging / ONNX_SUBDIR).mkdir(parents=True)
    try:
        for name in (CONFIG_FILE, *TOKENIZER_FILES):
            if (model_dir / name).is_file():
                shutil.copyfile(model_dir / name, staging / name)
                shutil.copyfile(model_dir / name, staging / ONNX_SUBDIR / name)
        for name in PROVENANCE_FILES:
            if (model_dir / name).is_file():
                shutil.copyfile(model_dir / name, staging / name)
        save_fp16_safetensors(model_dir / SAFETENSORS_FILE, staging / SAFETENSORS_FILE)
        shutil.copyfile(int8_path, staging / ONNX_FILE)
        files = directory_bytes(staging)
        total = sum(files.values())
        if total > max_bytes:
            raise ConfigError(
                f"the shipping layout of {model_dir} takes {total / 1e6:.1f} MB, over the "
                f"{max_bytes / 1e6:.0f} MB limit; largest files: "
                + ", ".join(
                    f"{k} {v / 1e6:.1f} MB"
                    for k, v in sorted(files.items(), key=lambda kv: -kv[1])[:3]
                )
            )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    logger.info("shipped %s -> %s (%.1f MB)", model_dir, out_dir, total / 1e6)
    return ShipReport(out_dir=out_dir, total_bytes=total, files=files)
