"""pyarrow, imported on first use: Parquet support is the ``[parquet]`` extra, not a base need.

``pa`` and ``pq`` stand for ``pyarrow`` and ``pyarrow.parquet``. The first attribute read imports
the real module; without pyarrow installed it raises
:class:`~refusal_detector.errors.BackendUnavailableError` naming the extra, so JSONL and CSV work on
the base install and a Parquet file gets a clear error instead of an ImportError at start-up.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from refusal_detector.errors import BackendUnavailableError

__all__ = ["PARQUET_EXTRA_HINT", "pa", "pq"]

PARQUET_EXTRA_HINT = 'Parquet files need pyarrow: pip install "refusal-detector[parquet]"'


class _LazyModule:
    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        if self._module is None:
            try:
                self._module = importlib.import_module(self._name)
            except ImportError as exc:
                raise BackendUnavailableError(PARQUET_EXTRA_HINT) from exc
        return getattr(self._module, attribute)


pa: Any = _LazyModule("pyarrow")
pq: Any = _LazyModule("pyarrow.parquet")
