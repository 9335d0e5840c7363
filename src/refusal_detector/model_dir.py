"""Model directory layout and validation: the one home of every file name in a model directory.

A model directory is the Hugging Face layout::

    config.json                  id2label {0: "NORMAL", 1: "REJECTION"}, max_position_embeddings
    model.safetensors            torch weights (never pytorch_model.bin: nothing is unpickled)
    tokenizer.json               a `tokenizers` tokenizer (plus tokenizer_config.json and friends)
    onnx/model.onnx              the ONNX export, with its own copy of config and tokenizer files
    onnx/model_quantized.onnx    the int8 variant of a full export (the shipped layout has it as
                                 onnx/model.onnx)
    README.md                    the model card (``refusal-detector card``)
    training_log.json            hyperparameters, sample and per-epoch table (``train``)
    emissions.json               energy and CO2 per training session (``train``)
    quantization_report.json     int8 vs fp32 on labelled rows (``export``)
    calibration.json             the temperature folded into the weights and the chosen threshold
                                 (``refusal-detector calibrate``; refusal_detector.calibration)
    checkpoints/                 Trainer checkpoints and data_fingerprint.txt (``train``)

An evaluation directory (``refusal-detector evaluate --out DIR``) holds report.md, report.json,
predictions.jsonl and PNG plots.

Every check raises :class:`~refusal_detector.errors.ModelLoadError` naming the file at fault.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from refusal_detector.errors import ConfigError, ModelLoadError
from refusal_detector.labels import ID2LABEL

__all__ = [
    "CALIBRATION_FILE",
    "CARD_FILE",
    "CHECKPOINT_SUBDIR",
    "CONFIG_FILE",
    "DATA_STAMP_FILE",
    "EMISSIONS_FILE",
    "INT8_FILE",
    "ONNX_FILE",
    "ONNX_SUBDIR",
    "PREDICTIONS_FILE",
    "PROVENANCE_FILES",
    "QUANTIZATION_REPORT_FILE",
    "REPORT_FILE",
    "REPORT_MARKDOWN_FILE",
    "SAFETENSORS_FILE",
    "TOKENIZER_CONFIG_FILE",
    "TOKENIZER_FILE",
    "TOKENIZER_FILES",
    "TRAINING_LOG_FILE",
    "check_model_dir",
    "check_tokenizer_vocab",
    "model_max_length",
    "pad_token_id",
    "read_config",
    "read_json",
    "read_tokenizer_config",
]

CONFIG_FILE = "config.json"
CALIBRATION_FILE = "calibration.json"
SAFETENSORS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
ONNX_SUBDIR = "onnx"
ONNX_FILE = f"{ONNX_SUBDIR}/model.onnx"
# Copied next to model.onnx so that optimum's ORTModel(subfolder="onnx") and LLM Guard load it.
TOKENIZER_FILES = (
    TOKENIZER_FILE,
    TOKENIZER_CONFIG_FILE,
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
)

INT8_FILE = f"{ONNX_SUBDIR}/model_quantized.onnx"
"""Where the int8 variant lives in a full export (optimum's file name for quantised models)."""
CARD_FILE = "README.md"
TRAINING_LOG_FILE = "training_log.json"
EMISSIONS_FILE = "emissions.json"
QUANTIZATION_REPORT_FILE = "quantization_report.json"
CHECKPOINT_SUBDIR = "checkpoints"
DATA_STAMP_FILE = "data_fingerprint.txt"
"""Inside ``checkpoints/``: what the checkpoints were trained on, so ``--resume`` can check it."""
PROVENANCE_FILES = (
    TRAINING_LOG_FILE,
    EMISSIONS_FILE,
    QUANTIZATION_REPORT_FILE,
    CARD_FILE,
    CALIBRATION_FILE,
)
"""Copied into the shipping layout: what the model card is built from, the card itself, and the
calibration record (a temperature folded before export is in both weight files)."""

# An evaluation directory (refusal-detector evaluate --out DIR).
REPORT_FILE = "report.json"
REPORT_MARKDOWN_FILE = "report.md"
PREDICTIONS_FILE = "predictions.jsonl"

_ONNX_MAGIC_MIN_BYTES = 16


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from ``path``; raise ModelLoadError naming the file if missing or bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ModelLoadError(f"{path}: file not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{path}: cannot read ({exc})") from exc
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise ModelLoadError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def read_config(model_dir: Path) -> dict[str, Any]:
    """Read ``config.json`` and check that its labels are ``{0: NORMAL, 1: REJECTION}``."""
    path = model_dir / CONFIG_FILE
    config = read_json(path)
    raw = config.get("id2label")
    if not isinstance(raw, dict):
        raise ModelLoadError(
            f"{path}: no id2label mapping; expected {ID2LABEL} (the labels LLM Guard checks)"
        )
    try:
        id2label = {int(k): v for k, v in raw.items()}
    except (TypeError, ValueError) as exc:
        raise ModelLoadError(f"{path}: id2label keys must be integers, found {raw}") from exc
    if id2label != ID2LABEL:
        raise ModelLoadError(
            f"{path}: id2label is {id2label}, expected {ID2LABEL}; "
            "a refusal-detector model has exactly these two labels"
        )
    return config


def read_tokenizer_config(model_dir: Path) -> dict[str, Any]:
    """Read ``tokenizer_config.json`` if present (it is optional), else return ``{}``."""
    path = model_dir / TOKENIZER_CONFIG_FILE
    return read_json(path) if path.exists() else {}


def model_max_length(config: dict[str, Any], tokenizer_config: dict[str, Any]) -> int:
    """Model window in tokens, special tokens included.

    ``tokenizer_config["model_max_length"]`` capped by the position embeddings. RoBERTa-style
    models reserve ``pad_token_id + 1`` positions, so their usable window is that much shorter.
    """
    positions = config.get("max_position_embeddings")
    if not isinstance(positions, int) or positions <= 0:
        raise ModelLoadError(
            f"{CONFIG_FILE}: max_position_embeddings must be a positive integer, "
            f"found {positions!r}"
        )
    if "roberta" in str(config.get("model_type", "")):
        positions -= int(config.get("pad_token_id", 1)) + 1
    declared = tokenizer_config.get("model_max_length")
    # transformers writes a huge sentinel (1e30) when the tokenizer has no limit.
    if isinstance(declared, int | float) and 0 < declared < positions:
        return int(declared)
    return positions


def pad_token_id(
    config: dict[str, Any], tokenizer_config: dict[str, Any], token_to_id: dict[str, int]
) -> int:
    """Padding id: the tokenizer's pad token, else config ``pad_token_id``, else 0."""
    pad = tokenizer_config.get("pad_token")
    if isinstance(pad, dict):  # AddedToken serialisation
        pad = pad.get("content")
    if isinstance(pad, str) and pad in token_to_id:
        return token_to_id[pad]
    config_pad = config.get("pad_token_id")
    return config_pad if isinstance(config_pad, int) else 0


def check_model_dir(model_dir: Path, *, backend: str) -> dict[str, Any]:
    """Validate ``model_dir`` for ``backend`` ("onnx" or "torch") and return its config.

    Raises:
        ModelLoadError: naming the missing or corrupt file.
    """
    if not model_dir.is_dir():
        what = "not a directory" if model_dir.exists() else "model directory not found"
        raise ModelLoadError(f"{model_dir}: {what}")
    if not (model_dir / CONFIG_FILE).is_file():
        found = sorted(p.name for p in model_dir.iterdir())
        shown = ", ".join(found[:6]) + (", ..." if len(found) > 6 else "") or "nothing"
        raise ModelLoadError(
            f"{model_dir / CONFIG_FILE}: file not found, so {model_dir} is not a model directory "
            f"(it holds {shown}); a model directory holds {CONFIG_FILE}, {TOKENIZER_FILE} and "
            f"{SAFETENSORS_FILE} or {ONNX_FILE}: pass the directory that `refusal-detector train "
            "--out DIR` or `refusal-detector export --ship DIR` wrote"
        )
    config = read_config(model_dir)
    tokenizer = model_dir / TOKENIZER_FILE
    if not tokenizer.is_file():
        raise ModelLoadError(
            f"{tokenizer}: file not found; a model directory needs a fast-tokenizer tokenizer.json "
            "(save it with transformers' PreTrainedTokenizerFast.save_pretrained)"
        )
    if backend == "torch":
        weights = model_dir / SAFETENSORS_FILE
        if not weights.is_file():
            pickled = ""
            if (model_dir / "pytorch_model.bin").exists():
                pickled = " (pytorch_model.bin is never loaded: it would unpickle)"
            if not pickled and (model_dir / ONNX_FILE).is_file():
                raise ModelLoadError(
                    f"{weights}: file not found; this directory has only the ONNX export, which "
                    "the default backend reads (backend='onnx'). The torch backend and "
                    "transformers.pipeline need model.safetensors: a pip-installed package leaves "
                    "the shipped model's torch weights out (45 MB) to keep the base install "
                    "small; take the model directory from a source checkout "
                    "(src/refusal_detector/models/refusal-detector-minilm) and pass its path"
                )
            raise ModelLoadError(
                f"{weights}: file not found{pickled}; "
                "save the model with save_pretrained(safe_serialization=True)"
            )
    elif backend == "onnx":
        onnx = model_dir / ONNX_FILE
        if not onnx.is_file():
            raise ModelLoadError(
                f"{onnx}: file not found; export it with "
                "refusal_detector.training.export.export_onnx(model_dir)"
            )
        if onnx.stat().st_size < _ONNX_MAGIC_MIN_BYTES:
            raise ModelLoadError(f"{onnx}: file is truncated ({onnx.stat().st_size} bytes)")
        _check_onnx_config(model_dir, config)
    else:
        raise ConfigError(f"backend must be 'onnx' or 'torch', got {backend!r}")
    return config


def _check_onnx_config(model_dir: Path, config: dict[str, Any]) -> None:
    """``onnx/config.json``, where present, must be valid and agree with the root config's labels.

    LLM Guard and optimum (``subfolder="onnx"``) read that copy, this package the root one: if they
    disagreed, the same directory would give opposite labels depending on who loads it.
    """
    path = model_dir / ONNX_SUBDIR / CONFIG_FILE
    if not path.exists():
        return
    try:
        read_config(model_dir / ONNX_SUBDIR)
    except ModelLoadError as exc:
        raise ModelLoadError(
            f"{exc}; it must match {model_dir / CONFIG_FILE} (re-export with "
            "refusal_detector.training.export.export_onnx(model_dir))"
        ) from exc
    onnx_labels = read_json(path).get("label2id")
    root_labels = config.get("label2id")
    if onnx_labels is not None and root_labels is not None and onnx_labels != root_labels:
        raise ModelLoadError(
            f"{path}: label2id is {onnx_labels}, but {model_dir / CONFIG_FILE} has {root_labels}; "
            "re-export with refusal_detector.training.export.export_onnx(model_dir)"
        )


def check_tokenizer_vocab(path: Path, config: dict[str, Any], token_ids: Iterable[int]) -> None:
    """Raise ModelLoadError if the tokenizer at ``path`` has ids the model has no embedding for."""
    vocab_size = config.get("vocab_size")
    highest = max(token_ids, default=-1)
    if isinstance(vocab_size, int) and highest >= vocab_size:
        raise ModelLoadError(
            f"{path}: token id {highest} is outside the model's vocabulary "
            f"({CONFIG_FILE} vocab_size {vocab_size}); the tokenizer does not belong to this model"
        )
