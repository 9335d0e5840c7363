"""Configuration of a corpus build: a frozen dataclass validated where it is made."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from refusal_detector.data.adapters import ADAPTERS
from refusal_detector.data.annotations_io import DEFAULT_ANNOTATIONS
from refusal_detector.errors import ConfigError

__all__ = ["HOLDOUT_OVERLAP_MODES", "LICENSE_MODES", "BuildConfig"]

LICENSE_MODES = ("permissive", "all")
HOLDOUT_OVERLAP_MODES = ("drop", "keep")


@dataclass(frozen=True)
class BuildConfig:
    """Configuration of one corpus build.

    Args:
        raw: the raw data folder (``shared/data/raw``), read only.
        out: output folder for the jsonl files and ``datacard.json``.
        license: ``permissive`` drops NC sources (what the shipped model trains on); ``all``
            keeps them.
        holdout_family: put every row of this family in test and split the rest train/validation.
        holdout_overlap: ``drop`` (strict) also drops other families' answers to the held-out
            prompts; ``keep`` drops only near-duplicates of held-out rows.
        refusal_ratio: target share of refusals among binary rows; 0 keeps the natural mix.
            Normals are downsampled to reach it; refusals above it are kept unless
            ``cut_refusals``.
        cut_refusals: also drop refusals when they exceed ``refusal_ratio``.
        max_source_share: cap of one source's share of a class.
        max_model_share: cap of one model's share of a class.
        seed: seed of the split hash, the balancing order and the audit sample.
        annotations: folder holding ``hand_labels.jsonl`` and ``audit.jsonl``.
        sources: restrict to these sources (default: all adapters).
        card_dir: also write ``data_card.md`` and ``data_card.json`` there (e.g. ``docs``).
        progress: show progress bars on stderr (only when stderr is a terminal).
    """

    raw: Path
    out: Path
    license: str = "permissive"
    holdout_family: str | None = None
    holdout_overlap: str = "drop"
    refusal_ratio: float = 0.1
    cut_refusals: bool = False
    max_source_share: float = 0.3
    max_model_share: float = 0.2
    seed: int = 0
    annotations: Path = DEFAULT_ANNOTATIONS
    sources: tuple[str, ...] | None = None
    card_dir: Path | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        if self.license not in LICENSE_MODES:
            raise ConfigError(f"license must be one of {LICENSE_MODES}, found {self.license!r}")
        if self.holdout_overlap not in HOLDOUT_OVERLAP_MODES:
            raise ConfigError(
                f"holdout_overlap must be 'drop' or 'keep', found {self.holdout_overlap!r}"
            )
        if not 0 <= self.refusal_ratio < 1:
            raise ConfigError(f"refusal_ratio must be in [0, 1), found {self.refusal_ratio}")
        for name in ("max_source_share", "max_model_share"):
            value = getattr(self, name)
            if not 0 < value <= 1:
                raise ConfigError(f"{name} must be in (0, 1], found {value}")
        if not self.raw.is_dir():
            raise ConfigError(
                f"raw={self.raw}: not a directory; pass --raw pointing at shared/data/raw"
            )
        unknown = set(self.sources or ()) - set(ADAPTERS)
        if unknown:
            raise ConfigError(f"sources: unknown {sorted(unknown)}; known: {sorted(ADAPTERS)}")
