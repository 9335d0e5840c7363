"""The torch-free base install: JSONL/CSV without pyarrow, Parquet behind [parquet], clear hints."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from refusal_detector import ModelLoadError, RefusalDetector

# Runs the CLI in a fresh interpreter where `import pyarrow` fails, as on the base install.
_WITHOUT_PYARROW = textwrap.dedent(
    """
    import sys
    sys.modules["pyarrow"] = None
    sys.modules["pyarrow.parquet"] = None
    from refusal_detector.cli import main
    code = main(sys.argv[1:])
    assert "pyarrow" not in sys.modules or sys.modules["pyarrow"] is None
    raise SystemExit(code)
    """
)


def _cli_without_pyarrow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT_PYARROW, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_jsonl_works_and_parquet_names_the_extra_without_pyarrow(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps({"text": "sorry i can't help"}) + "\n", encoding="utf-8")
    ok = _cli_without_pyarrow(
        "predict",
        "--model",
        str(tiny_model_dir),
        "-i",
        str(source),
        "-o",
        str(tmp_path / "o.jsonl"),
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads((tmp_path / "o.jsonl").read_text(encoding="utf-8"))["label"] in (
        "NORMAL",
        "REJECTION",
    )
    failed = _cli_without_pyarrow(
        "predict",
        "--model",
        str(tiny_model_dir),
        "-i",
        str(source),
        "-o",
        str(tmp_path / "o.parquet"),
    )
    assert failed.returncode == 2
    assert 'error: Parquet files need pyarrow: pip install "refusal-detector[parquet]"' in (
        failed.stderr
    )
    assert "Traceback" not in failed.stderr


def test_an_onnx_only_directory_says_where_the_torch_weights_are(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    # What a pip-installed package holds: the ONNX export, no model.safetensors.
    model = tmp_path / "installed"
    shutil.copytree(tiny_model_dir, model)
    (model / "model.safetensors").unlink()
    assert RefusalDetector.from_pretrained(model).backend_name == "onnx"
    with pytest.raises(ModelLoadError, match=r"only the ONNX export.*source checkout"):
        RefusalDetector.from_pretrained(model, backend="torch")
