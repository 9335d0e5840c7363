"""The calibration record of a model directory: ``calibration.json``.

``refusal-detector calibrate`` writes it. Two optional entries:

- ``temperature``: a temperature T that has been *folded* into the classifier head (its final
  linear layer's weight and bias divided by T) of every weight file in the directory:
  ``model.safetensors`` and each ``onnx/*.onnx``. The scores every consumer reads (the torch and
  ONNX backends, ``transformers.pipeline(dir)``, LLM Guard) are therefore already calibrated, and
  nothing applies T at run time. The entry exists so that T is never folded twice.
- ``threshold``: the P(REJECTION) threshold chosen for a target precision or recall on labelled
  data (``--threshold auto`` and :attr:`RefusalDetector.threshold` read it).

Torch-free: the detector reads this file on load.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from refusal_detector.errors import ModelLoadError
from refusal_detector.io.files import atomic_write_text
from refusal_detector.model_dir import CALIBRATION_FILE, read_json

__all__ = ["CALIBRATION_FORMAT", "Calibration", "read_calibration", "write_calibration"]

CALIBRATION_FORMAT = 1


@dataclass(frozen=True)
class Calibration:
    """What ``calibration.json`` says; an empty record when the file is absent.

    Attributes:
        temperature: the temperature folded into the weights, or None (never folded).
        threshold: the chosen P(REJECTION) threshold, or None (none chosen).
        temperature_info: how T was fitted (data, rows, NLL and ECE before and after, files).
        threshold_info: how the threshold was chosen (target, data, rows, metrics there).
    """

    temperature: float | None = None
    threshold: float | None = None
    temperature_info: dict[str, Any] = field(default_factory=dict)
    threshold_info: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The ``calibration.json`` object."""
        record: dict[str, Any] = {"format": CALIBRATION_FORMAT}
        if self.temperature is not None:
            record["temperature"] = {
                **self.temperature_info,
                "value": self.temperature,
                "folded": True,
            }
        if self.threshold is not None:
            record["threshold"] = {**self.threshold_info, "value": self.threshold}
        return record


def read_calibration(model_dir: Path) -> Calibration:
    """Read ``model_dir/calibration.json``; an empty :class:`Calibration` if there is none.

    Raises:
        ModelLoadError: the file exists but is not a valid calibration record.
    """
    path = Path(model_dir) / CALIBRATION_FILE
    if not path.exists():
        return Calibration()
    raw = read_json(path)
    if raw.get("format") != CALIBRATION_FORMAT:
        raise ModelLoadError(
            f"{path}: format is {raw.get('format')!r}, expected {CALIBRATION_FORMAT}; "
            "rewrite it with refusal-detector calibrate"
        )
    temperature, t_info = _entry(raw, "temperature", path, low=0.0, high=math.inf)
    threshold, h_info = _entry(raw, "threshold", path, low=0.0, high=1.0)
    if temperature is not None and t_info.get("folded") is not True:
        raise ModelLoadError(
            f"{path}: temperature.folded must be true (a temperature is only ever recorded "
            "once it is folded into the weights)"
        )
    t_info.pop("folded", None)
    return Calibration(
        temperature=temperature,
        threshold=threshold,
        temperature_info=t_info,
        threshold_info=h_info,
    )


def _entry(
    raw: dict[str, Any], key: str, path: Path, *, low: float, high: float
) -> tuple[float | None, dict[str, Any]]:
    entry = raw.get(key)
    if entry is None:
        return None, {}
    if not isinstance(entry, dict):
        raise ModelLoadError(f"{path}: {key} must be an object, found {type(entry).__name__}")
    info = dict(entry)
    value = info.pop("value", None)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ModelLoadError(f"{path}: {key}.value must be a number, found {value!r}")
    inclusive_low = key == "threshold"
    if not (value >= low if inclusive_low else value > low) or not value <= high:
        bounds = f"[{low}, {high}]" if inclusive_low else f"({low}, {high})"
        raise ModelLoadError(f"{path}: {key}.value must be in {bounds}, found {value}")
    return float(value), info


def write_calibration(model_dir: Path, calibration: Calibration) -> Path:
    """Write ``calibration`` to ``model_dir/calibration.json`` atomically and return the path."""
    path = Path(model_dir) / CALIBRATION_FILE
    atomic_write_text(path, json.dumps(calibration.to_json(), indent=2) + "\n")
    return path
