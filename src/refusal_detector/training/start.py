"""What a training run starts from: the base classifier (optionally its bottom layers only), the
pretrained model it descends from, and an optional teacher to distil from.

A second round (``--base-model`` a trained directory) keeps the trained head; ``--num-layers N``
builds only the bottom N layers (layer dropping); ``--teacher DIR`` adds the KL divergence to the
teacher's softened scores to the loss (knowledge distillation, Hinton et al.).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForSequenceClassification, Trainer

from refusal_detector.errors import ConfigError
from refusal_detector.labels import ID2LABEL, LABEL2ID
from refusal_detector.model_dir import TRAINING_LOG_FILE
from refusal_detector.training.config import PACKAGED_BASE_MODEL, TrainConfig

__all__ = [
    "DistillationTrainer",
    "base_fingerprint",
    "base_model_name",
    "load_base_classifier",
    "load_teacher",
]

logger = logging.getLogger(__name__)


def load_base_classifier(base_model: str, num_layers: int | None) -> Any:
    """A two-label classifier from ``base_model``, with only its bottom ``num_layers`` layers.

    The config decides how many layers are built; from_pretrained then loads the bottom ones and
    ignores the rest of the checkpoint.
    """
    model_config = AutoConfig.from_pretrained(
        base_model, num_labels=2, id2label=dict(ID2LABEL), label2id=dict(LABEL2ID)
    )
    if num_layers is not None:
        available = int(model_config.num_hidden_layers)
        if num_layers > available:
            raise ConfigError(
                f"num_layers {num_layers} exceeds the base model's {available} layers"
            )
        model_config.num_hidden_layers = num_layers
    return AutoModelForSequenceClassification.from_pretrained(
        base_model, config=model_config, ignore_mismatched_sizes=True
    )


def base_fingerprint(base_model: str, config: TrainConfig) -> str:
    """What the run starts from, for the resume check: the base, its depth and any teacher."""
    text = base_model if config.num_layers is None else f"{base_model}:{config.num_layers}"
    if config.teacher is not None:
        text += f"|teacher={config.teacher}:{config.distill_weight}:{config.distill_temperature}"
    return text


def base_model_name(base_model: str | None) -> str:
    """The pretrained model a run descends from: a trained model directory as the base (a second
    round) passes on the name its own training log records."""
    if base_model is None:
        return PACKAGED_BASE_MODEL
    log = Path(base_model) / TRAINING_LOG_FILE
    if log.is_file():
        try:
            return str(json.loads(log.read_text(encoding="utf-8"))["base_model_name"])
        except (ValueError, KeyError, TypeError):
            logger.warning("%s: no base_model_name; naming the directory itself", log)
    return base_model


def load_teacher(path: str, student: Any) -> Any:
    """The frozen teacher classifier at ``path``; it must share the student's vocabulary, labels."""
    try:
        teacher = AutoModelForSequenceClassification.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"teacher {path}: not a loadable classifier directory ({exc})") from exc
    for name in ("vocab_size", "num_labels"):
        mine, theirs = getattr(student.config, name), getattr(teacher.config, name)
        if mine != theirs:
            raise ConfigError(
                f"teacher {path}: {name} {theirs} differs from the student's {mine}; a teacher "
                "must read the same tokens and predict the same labels"
            )
    teacher.eval()
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    return teacher


class DistillationTrainer(Trainer):
    """Trainer whose loss is (1 - w) * cross-entropy + w * T^2 * KL(teacher_T || student_T).

    The same loss is reported on validation batches (the teacher runs on them too), so a
    distilled run's validation loss is not comparable with one trained on the labels alone.
    """

    def __init__(self, *args: Any, teacher: Any, weight: float, temperature: float, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.teacher = teacher.to(self.args.device)
        self.distill_weight = weight
        self.distill_temperature = temperature

    def compute_loss(
        self,
        model: Any,
        inputs: dict[str, Any],
        return_outputs: bool = False,
        num_items_in_batch: Any = None,
    ) -> Any:
        outputs = model(**inputs)
        features = {k: v for k, v in inputs.items() if k != "labels"}
        with torch.no_grad():
            teacher_logits = self.teacher(**features).logits
        t = self.distill_temperature
        soft = torch.nn.functional.kl_div(
            torch.log_softmax(outputs.logits / t, dim=-1),
            torch.softmax(teacher_logits / t, dim=-1),
            reduction="batchmean",
        ) * (t * t)
        loss = (1.0 - self.distill_weight) * outputs.loss + self.distill_weight * soft
        return (loss, outputs) if return_outputs else loss
