"""The one place label names live: 0 NORMAL, 1 REJECTION.

These are the seed model's names, and LLM Guard checks them.
"""

from __future__ import annotations

__all__ = ["ID2LABEL", "LABEL2ID", "NORMAL", "REJECTION"]

NORMAL = "NORMAL"
REJECTION = "REJECTION"
ID2LABEL: dict[int, str] = {0: NORMAL, 1: REJECTION}
LABEL2ID: dict[str, int] = {NORMAL: 0, REJECTION: 1}
