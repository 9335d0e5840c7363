"""Read corpus splits (JSON lines) into examples, filter by licence, and sample by stratum.

A corpus directory holds ``train.jsonl``, ``validation.jsonl`` and ``test.jsonl``; every line is
one JSON object with at least ``text``, ``label`` (0 NORMAL, 1 REJECTION), ``source`` and ``family``
(see ``refusal_detector.data.records.CorpusRecord``). Rows whose label is null (partial refusals)
are skipped and counted; any other malformed row raises :class:`DataError` naming ``path:line``.

Everything here is torch-free: :func:`training_rows` draws exactly the rows that
:func:`refusal_detector.training.train.train` trains and evaluates on, so benchmarks and tools get
the same sample without importing torch.
"""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from refusal_detector.data.balance import water_fill
from refusal_detector.data.records import CAPPED_FILE
from refusal_detector.errors import ConfigError, DataError
from refusal_detector.io.files import read_jsonl
from refusal_detector.training.config import TrainConfig

__all__ = [
    "SLICE_FIELDS",
    "SPLITS",
    "Example",
    "TrainingRows",
    "capped_train_rows",
    "describe",
    "is_permissive",
    "load_examples",
    "mid_window_examples",
    "resolve_split",
    "stratified_sample",
    "training_rows",
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
    for lineno, row in read_jsonl(path):
        where = f"{path}:{lineno}"
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


def _fill(sizes: Mapping[K, int], budget: int) -> dict[K, int]:
    # Leftover units go to the larger stratum name among equals: the order every shipped model's
    # sample was drawn in, so the same corpus and seed give the same rows.
    by_name = dict(sorted(sizes.items(), key=lambda item: str(item[0]), reverse=True))
    return water_fill(by_name, budget)


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
            counts.update(_fill(source_counts, max_per_source))
    if max_total is not None:
        counts = _fill(counts, max_total)
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


@dataclass(frozen=True)
class TrainingRows:
    """What a training run reads: every loaded row and the stratified samples it uses."""

    train_all: list[Example]
    train: list[Example]
    eval_all: list[Example]
    eval: list[Example]


def training_rows(config: TrainConfig) -> TrainingRows:
    """Load, filter and sample ``config.data`` exactly as training does.

    Licence filter (``permissive_only``), the capped rows (``include_capped``), then stratified
    samples of ``max_train_samples`` (with ``max_per_source``, ``sample_by`` and
    ``refusal_share``) and ``max_eval_samples``.

    Raises:
        DataError: a corpus file is missing or malformed.
        ConfigError: a sample lacks one of the two labels.
    """
    licence_filter = is_permissive if config.permissive_only else None
    train_all = load_examples(resolve_split(config.data, "train"), licenses=licence_filter)
    if config.include_capped:
        train_all += capped_train_rows(config.data, licence_filter)
    eval_all = load_examples(resolve_split(config.data, "validation"), licenses=licence_filter)
    train_rows = stratified_sample(
        train_all,
        max_total=config.max_train_samples,
        max_per_source=config.max_per_source,
        by=config.sample_by,
        seed=config.seed,
        refusal_share=config.refusal_share,
    )
    eval_rows = stratified_sample(eval_all, max_total=config.max_eval_samples, seed=config.seed)
    _check_both_labels(train_rows, "train")
    _check_both_labels(eval_rows, "validation")
    logger.info(
        "training on %d of %d examples, evaluating on %d of %d",
        len(train_rows),
        len(train_all),
        len(eval_rows),
        len(eval_all),
    )
    return TrainingRows(train_all, train_rows, eval_all, eval_rows)


def _check_both_labels(rows: Sequence[Example], split: str) -> None:
    labels = {row.label for row in rows}
    if labels != {0, 1}:
        raise ConfigError(
            f"the {split} split needs both labels (0 NORMAL and 1 REJECTION); found only {labels}"
        )


def capped_train_rows(data: Path, licenses: Callable[[str], bool] | None) -> list[Example]:
    """Train-split rows of ``balanced_out.jsonl`` (set aside by the corpus caps), if present."""
    path = data / CAPPED_FILE
    if not data.is_dir() or not path.is_file():
        logger.warning("--include-capped: no %s; nothing added", path)
        return []
    rows = [e for e in load_examples(path, licenses=licenses) if e.split == "train"]
    logger.info("--include-capped: %d train rows from %s", len(rows), path)
    return rows


def mid_window_examples(
    tokenizer: Any, examples: Sequence[Example], *, n: int, max_length: int, seed: int
) -> list[dict[str, Any]]:
    """Up to ``n`` NORMAL training items, each one later window (not the first) of a long NORMAL
    response, cut exactly as :class:`~refusal_detector.segment.TokenWindower` cuts texts at
    inference. Sources are water-filled so that no source dominates; one window per response.

    ``tokenizer`` is a transformers fast tokenizer (its ``backend_tokenizer`` cuts the windows).
    """
    from refusal_detector.segment import TokenWindower

    windower = TokenWindower(tokenizer.backend_tokenizer, max_length=max_length)
    # a rough character pre-filter (a WordPiece token is >= 1 character) before tokenising
    pool = [e for e in examples if e.label == 0 and len(e.text) > windower.content_size * 2]
    counts = windower.count_tokens([e.text for e in pool]) if pool else []
    by_source: dict[str, list[Example]] = {}
    for example, n_tokens in zip(pool, counts, strict=True):
        if n_tokens > windower.content_size + windower.stride // 2:
            by_source.setdefault(example.source, []).append(example)
    quotas = _fill({k: len(v) for k, v in by_source.items()}, n)
    rng = random.Random(seed)
    chosen: list[Example] = []
    for source in sorted(by_source):
        rows = list(by_source[source])
        rng.shuffle(rows)
        chosen.extend(rows[: quotas[source]])
    names = list(tokenizer.model_input_names)
    items = []
    for windows in windower.windows([e.text for e in chosen]):
        if len(windows) < 2:
            continue
        ids = rng.choice(windows[1:]).ids
        item: dict[str, Any] = {"input_ids": list(ids), "labels": 0}
        if "attention_mask" in names:
            item["attention_mask"] = [1] * len(ids)
        if "token_type_ids" in names:
            item["token_type_ids"] = [0] * len(ids)
        items.append(item)
    return items
