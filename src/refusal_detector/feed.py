"""Model inputs: token-id sequences as one padded batch, and P(REJECTION) from the logits.

Both are the hot path of every call (``RefusalDetector.logits_token_sequences``), so they avoid
Python loops: padding is one boolean-mask copy, the two-label softmax one vectorised expression.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
import numpy.typing as npt

from refusal_detector.labels import ID2LABEL

__all__ = ["pad_batch", "rejection_probability"]

_REJECTION_ID = 1


def pad_batch(
    sequences: Sequence[Sequence[int]],
    lengths: npt.NDArray[np.int64],
    *,
    pad_id: int,
    token_types: bool,
) -> dict[str, npt.NDArray[np.int64]]:
    """``input_ids`` padded on the right to the longest of ``lengths`` with ``pad_id``, its
    ``attention_mask`` and, with ``token_types``, zero ``token_type_ids``."""
    width = int(lengths.max())
    filled = np.arange(width) < lengths[:, None]
    input_ids = np.full((len(sequences), width), pad_id, dtype=np.int64)
    # One C-level copy: the mask's True cells, in row order, are each row's ids in order.
    input_ids[filled] = np.fromiter(
        chain.from_iterable(sequences), dtype=np.int64, count=int(lengths.sum())
    )
    batch = {"input_ids": input_ids, "attention_mask": filled.astype(np.int64)}
    if token_types:
        batch["token_type_ids"] = np.zeros_like(input_ids)
    return batch


def rejection_probability(logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """P(REJECTION) from (n, 2) logits, as float32.

    Two labels: softmax(l)[1] = 1 / (1 + exp(l0 - l1)), in float64 so it never overflows.
    """
    values = np.asarray(logits).reshape(-1, len(ID2LABEL))
    margin = values[:, 0].astype(np.float64) - values[:, _REJECTION_ID]
    return (1.0 / (1.0 + np.exp(margin))).astype(np.float32)
