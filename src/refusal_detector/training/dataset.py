"""Read corpus splits (JSON lines) into examples, filter by licence, and sample by stratum.

A corpus directory holds ``train.jsonl``, ``validation.jsonl`` and ``test.jsonl``; every line is
one JSON object with at least ``text``, ``label`` (0 NORMAL, 1 REJECTION), ``source`` and ``family``
(see ``refusal_detector.data.records.CorpusRecord``). Rows whose label is null (partial refusals)
are skipped and counted; any other malformed row raises :class:`DataError` naming ``path:line``.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from refusal_detector.errors import DataError

__all__ = [
    "SLICE_FIELDS",
    "SPLITS",
    "Example",
    "describe",
    "is_permissive",
    "load_examples",
    "resolve_split",
    "stratified_sample",
    "water_fill",
]

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)

SPLITS = ("train", "validation", "test")
SLICE_FIELDS = ("source", "family", "model", "license", "origin")

# Licence strings treated as permissive: the corpus writes either a class ("permissive" / "nc") or
# an SPDX-like identifier. Non-commercial, no-derivatives or unknown licences are not permissive.
_PERMISSIVE_PREFIXES = (
    "permissive",
    "mit",
    "apache",
    "bsd",
    "cc0",
    "cc-by-4",
    "cc-by-3",
    "unlicense",
)


@dataclass(frozen=True)
class Example:
    """One labelled response: the text the model sees plus the fields used for slicing."""

    text: str
    label: int
    source: str = "unknown"
    family: str = "unknown"
    model: str = "unknown"
    license: str = "unknown"
    id: str = ""
    origin: str = "unknown"
    split: str = ""

    def field(self, name: str) -> str:
        """The slicing field ``name`` (source, family, model, license, origin) as a string.

        ``origin`` groups ``label_origin`` into ``human`` (a source's own human label, or a hand
        label from the review queue or an audit) and ``rule`` (labelling functions and the named
        harm-label rules), so quality can be read on human-labelled rows alone.
        """
        if name not in SLICE_FIELDS:
            raise ValueError(f"cannot slice by {name!r}; expected one of {SLICE_FIELDS}")
        return str(getattr(self, name))


def is_permissive(license_name: str) -> bool:
    """True for permissive licences (MIT, Apache, BSD, CC0, CC-BY without NC/ND, "permissive")."""
    name = license_name.strip().lower()
    if "nc" in name.replace("-", " ").split() or "-nc" in name or "-nd" in name:
        return False
    return name.startswith(_PERMISSIVE_PREFIXES)


def resolve_split(data: Path, split: str) -> Path:
    """``data`` itself if it is a file, else ``data/<split>.jsonl``; raise DataError if missing."""
    path = data if data.is_file() else data / f"{split}.jsonl"
    if not path.is_file():
        raise DataError(
            f"{path}: no such file; pass a corpus directory holding {split}.jsonl "
            "(refusal-detector build-corpus writes one) or a .jsonl file"
        )
    return path


def load_examples(path: Path, *, licenses: Callable[[str], bool] | None = None) -> list[Example]:
    """Read a JSON-lines file into examples.

    Args:
        path: a ``.jsonl`` file, one object per line with ``text`` and ``label``.
        licenses: keep only rows whose ``license`` passes this predicate (None keeps all).

    Raises:
        DataError: a line is not a JSON object, or ``text``/``label`` is missing or of the wrong
            type (the message names ``path:line``).
    """
    examples: list[Example] = []
    skipped_unlabelled = 0
    skipped_license: Counter[str] = Counter()
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    with handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{where}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise DataError(f"{where}: expected a JSON object, found {type(row).__name__}")
            text = row.get("text")
            if not isinstance(text, str):
                raise DataError(f"{where}: 'text' must be a string, found {text!r:.40}")
            label = row.get("label")
            if label is None:
                skipped_unlabelled += 1
                continue
            if isinstance(label, bool) or label not in (0, 1):
                raise DataError(
                    f"{where}: 'label' must be 0 (NORMAL) or 1 (REJECTION), found {label!r}; "
                    "map label names with refusal_detector.labels.LABEL2ID"
                )
            license_name = str(row.get("license") or "unknown")
            if licenses is not None and not licenses(license_name):
                skipped_license[license_name] += 1
                continue
            examples.append(
                Example(
                    text=text,
                    label=int(label),
                    source=str(row.get("source") or "unknown"),
                    family=str(row.get("family") or "unknown"),
                    model=str(row.get("model") or "unknown"),
                    license=license_name,
                    id=str(row.get("id") or f"{path.name}:{lineno}"),
                    origin=_origin_group(row.get("label_origin")),
                    split=str(row.get("split") or ""),
                )
            )
    if skipped_unlabelled:
        logger.info("%s: skipped %d rows without a label (partial)", path, skipped_unlabelled)
    if skipped_license:
        logger.info("%s: skipped rows by licence: %s", path, dict(skipped_license))
    if not examples:
        raise DataError(f"{path}: no labelled rows left (after the licence filter, if any)")
    return examples


def _origin_group(label_origin: object) -> str:
    if not isinstance(label_origin, str) or not label_origin:
        return "unknown"
    return "rule" if label_origin.startswith("rule") else "human"


def water_fill(sizes: Mapping[K, int], budget: int) -> dict[K, int]:
    """Per-stratum counts summing to ``min(budget, total)`` under one common cap.

    Small strata are kept whole and the largest are cut to the same cap, so sampling keeps every
    source and family while capping the big ones.
    """
    if budget < 0:
        raise ValueError(f"budget must be >= 0, got {budget}")
    total = sum(sizes.values())
    if budget >= total:
        return dict(sizes)
    counts = dict.fromkeys(sizes, 0)
    remaining = budget
    open_keys = sorted((k for k in sizes if sizes[k] > 0), key=lambda k: (sizes[k], str(k)))
    while open_keys and remaining > 0:
        share = remaining // len(open_keys)
        smallest = open_keys[0]
        if share == 0:
            # Fewer units than strata: one more each to the largest strata first.
            for key in reversed(open_keys[-remaining:]):
                counts[key] += 1
            remaining = 0
            break
        if sizes[smallest] - counts[smallest] <= share:
            take = sizes[smallest] - counts[smallest]
            counts[smallest] += take
            remaining -= take
            open_keys.pop(0)
            continue
        for key in open_keys:
            counts[key] += share
        remaining -= share * len(open_keys)
        open_keys = [k for k in open_keys if counts[k] < sizes[k]]
    return counts


def stratified_sample(
    examples: Sequence[Example],
    *,
    max_total: int | None = None,
    max_per_source: int | None = None,
    by: Iterable[str] = ("source", "family", "label"),
    seed: int = 42,
    refusal_share: float | None = None,
) -> list[Example]:
    """Sample examples keeping every stratum, capping the largest first.

    Strata are the combinations of ``by`` (fields of :class:`Example`). First each source is cut to
    ``max_per_source`` (water-filling over its strata), then the whole set to ``max_total``. The
    result is shuffled with ``seed``; with no caps the input is returned shuffled.

    With ``refusal_share``, ``max_total`` is split into a REJECTION budget of
    ``round(refusal_share * max_total)`` and a NORMAL budget of the rest, each water-filled over
    the strata of its own label (a label with too few rows keeps all it has).
    """
    keys = tuple(by)
    if refusal_share is not None:
        if max_total is None:
            raise ValueError("refusal_share needs max_total")
        n_refusals = round(refusal_share * max_total)
        by_label = {label: [e for e in examples if e.label == label] for label in (1, 0)}
        mixed = stratified_sample(
            by_label[1], max_total=n_refusals, max_per_source=max_per_source, by=keys, seed=seed
        ) + stratified_sample(
            by_label[0],
            max_total=max_total - n_refusals,
            max_per_source=max_per_source,
            by=keys,
            seed=seed,
        )
        random.Random(seed).shuffle(mixed)
        return mixed
    rng = random.Random(seed)
    strata: dict[tuple[object, ...], list[Example]] = defaultdict(list)
    for example in examples:
        strata[tuple(getattr(example, k) for k in keys)].append(example)
    counts = {key: len(rows) for key, rows in strata.items()}
    if max_per_source is not None and "source" in keys:
        pos = keys.index("source")
        by_source: dict[object, dict[tuple[object, ...], int]] = defaultdict(dict)
        for key, size in counts.items():
            by_source[key[pos]][key] = size
        for source_counts in by_source.values():
            counts.update(water_fill(source_counts, max_per_source))
    if max_total is not None:
        counts = water_fill(counts, max_total)
    chosen: list[Example] = []
    for key in sorted(strata, key=str):
        rows = list(strata[key])
        rng.shuffle(rows)
        chosen.extend(rows[: counts[key]])
    rng.shuffle(chosen)
    return chosen


def describe(examples: Sequence[Example], field_name: str) -> dict[str, dict[str, int]]:
    """Counts per value of ``field_name``: ``{value: {"n": .., "refusals": ..}}``, largest first."""
    n: Counter[str] = Counter()
    pos: Counter[str] = Counter()
    for example in examples:
        value = example.field(field_name)
        n[value] += 1
        pos[value] += example.label
    return {value: {"n": count, "refusals": pos[value]} for value, count in n.most_common()}
