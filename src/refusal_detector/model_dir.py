"""Model directory layout and validation.

A model directory is the Hugging Face layout::

    config.json            id2label {0: "NORMAL", 1: "REJECTION"}, max_position_embeddings
    model.safetensors      weights for the torch backend (never pytorch_model.bin: no unpickling)
    tokenizer.json         a `tokenizers` tokenizer (plus tokenizer_config.json and friends)
    onnx/model.onnx        the ONNX export, with its own copy of config and tokenizer files

Every check raises :class:`~refusal_detector.errors.ModelLoadError` naming the file at fault.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from refusal_detector.errors import ModelLoadError
from refusal_detector.labels import ID2LABEL

__all__ = [
    "CONFIG_FILE",
    "ONNX_FILE",
    "ONNX_SUBDIR",
    "SAFETENSORS_FILE",
    "TOKENIZER_CONFIG_FILE",
    "TOKENIZER_FILE",
    "TOKENIZER_FILES",
    "check_model_dir",
    "model_max_length",
    "pad_token_id",
    "read_config",
    "read_json",
    "read_tokenizer_config",
]

CONFIG_FILE = "config.json"
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
        raise ModelLoadError(f"{model_dir}: model directory not found")
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
    else:
        raise ValueError(f"backend must be 'onnx' or 'torch', got {backend!r}")
    return config
