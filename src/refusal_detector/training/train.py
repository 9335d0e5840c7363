"""Fine-tune a sequence classifier (NORMAL / REJECTION) with transformers' Trainer.

Read top to bottom: load and sample the corpus, tokenise, build ``TrainingArguments`` from
:class:`TrainConfig` (whose field names are TrainingArguments' own), train with per-epoch evaluation
and step checkpoints, copy the checkpoint with the best validation F1 into ``output_dir`` as a model
directory, and write ``training_log.json`` (hyperparameters, sample, per-epoch table) next to it.

Checkpoints go to ``output_dir/checkpoints``: every ``save_steps`` optimizer steps and at the end of
every epoch (after that epoch's evaluation), so a killed run loses at most ``save_steps`` steps and
``resume=True`` continues from the newest one. Distributed training (``accelerate launch`` or
``torchrun``) works unchanged: Trainer shards the batches, and only the main process writes the
final model, the log and the emissions record.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    DataCollatorWithPadding,
    PrinterCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)
from transformers.trainer_utils import get_last_checkpoint

from refusal_detector.errors import ConfigError
from refusal_detector.labels import ID2LABEL, LABEL2ID
from refusal_detector.model_dir import (
    CALIBRATION_FILE,
    CHECKPOINT_SUBDIR,
    DATA_STAMP_FILE,
    EMISSIONS_FILE,
    TRAINING_LOG_FILE,
)
from refusal_detector.training.config import (
    MAX_DEFAULT_LENGTH,
    TrainConfig,
    default_base_model,
)
from refusal_detector.training.dataset import (
    Example,
    describe,
    mid_window_examples,
    training_rows,
)
from refusal_detector.training.emissions import EmissionsTracker
from refusal_detector.training.metrics import binary_metrics
from refusal_detector.training.start import (
    DistillationTrainer,
    base_fingerprint,
    base_model_name,
    load_base_classifier,
    load_teacher,
)

__all__ = [
    "EpochRow",
    "TrainResult",
    "epoch_table",
    "format_epoch_table",
    "framework_versions",
    "train",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EpochRow:
    """One row of the per-epoch table (the original card's columns)."""

    epoch: float
    step: int
    training_loss: float | None
    validation_loss: float
    accuracy: float
    recall: float
    precision: float
    f1: float


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` produced."""

    output_dir: Path
    epochs: list[EpochRow]
    best_checkpoint: str | None
    best_f1: float | None
    emissions_kg: float | None
    train_examples: int
    eval_examples: int


def train(config: TrainConfig, *, progress: Callable[[str], None] | None = None) -> TrainResult:
    """Fine-tune ``config.base_model`` on ``config.data`` and write a model directory.

    Args:
        config: the run's configuration.
        progress: called with one-line progress reports (step, rate, ETA) at every logging step.

    Raises:
        DataError: a corpus file is missing or malformed.
        ConfigError: checkpoints exist and ``resume`` is False, or the base model is unavailable.
    """
    base_model = config.base_model or default_base_model()
    checkpoint_dir = config.output_dir / CHECKPOINT_SUBDIR
    resume_from = _resume_point(checkpoint_dir, resume=config.resume)

    rows = training_rows(config)
    train_all, train_rows = rows.train_all, rows.train
    eval_all, eval_rows = rows.eval_all, rows.eval

    tokenizer = AutoTokenizer.from_pretrained(base_model)
    max_length = config.max_length or min(int(tokenizer.model_max_length), MAX_DEFAULT_LENGTH)
    model = load_base_classifier(base_model, config.num_layers)
    train_dataset = _EncodedDataset(tokenizer, train_rows, max_length=max_length)
    n_mid = round(config.mid_windows * len(train_rows))
    if n_mid:
        mid = mid_window_examples(
            tokenizer, train_all, n=n_mid, max_length=max_length, seed=config.seed
        )
        train_dataset.extend(mid)
        logger.info("added %d mid-text NORMAL windows", len(mid))
    eval_dataset = _EncodedDataset(tokenizer, eval_rows, max_length=max_length)
    _stamp_data(
        checkpoint_dir,
        _data_fingerprint(
            base_fingerprint(base_model, config),
            max_length,
            config.mid_windows,
            train_rows,
            eval_rows,
        ),
        resuming=resume_from is not None,
    )

    # Pinned memory only helps when copying to an accelerator; on CPU it just warns.
    args = TrainingArguments(
        **{"dataloader_pin_memory": torch.cuda.is_available(), **config.training_arguments()}
    )
    callbacks: list[Any] = [_EpochCheckpoint()]
    if progress is not None:
        callbacks.append(_ProgressReport(progress))
    distillation: dict[str, Any] = {}
    if config.teacher is not None:
        distillation = {
            "teacher": load_teacher(config.teacher, model),
            "weight": config.distill_weight,
            "temperature": config.distill_temperature,
        }
    trainer = (DistillationTrainer if distillation else Trainer)(
        **distillation,
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
        compute_metrics=_compute_metrics,
        callbacks=callbacks,
    )
    # PrinterCallback prints raw log dicts to stdout when tqdm is off; stdout is for results.
    trainer.remove_callback(PrinterCallback)
    main_process = trainer.is_world_process_zero()
    tracker = EmissionsTracker(
        country_iso_code=config.country_iso_code,
        enabled=config.track_emissions and main_process,
    )
    started = time.time()
    with tracker:
        trainer.train(resume_from_checkpoint=resume_from)
    runtime = time.time() - started

    best = trainer.state.best_model_checkpoint
    if best is None:
        best = get_last_checkpoint(str(checkpoint_dir))
        logger.warning("no best checkpoint recorded; using the last one, %s", best)
    epochs = epoch_table(trainer.state.log_history)
    if not main_process:
        return TrainResult(config.output_dir, epochs, best, None, None, 0, 0)

    final: Any = AutoModelForSequenceClassification.from_pretrained(best) if best else trainer.model
    final.config.id2label = dict(ID2LABEL)
    final.config.label2id = dict(LABEL2ID)
    final.save_pretrained(config.output_dir, safe_serialization=True)
    stale = config.output_dir / CALIBRATION_FILE
    if stale.exists():
        # New weights: a temperature or threshold recorded for the old ones no longer holds.
        logger.warning("removed %s: it described the weights this run replaced", stale)
        stale.unlink()
    tokenizer.model_max_length = max_length
    tokenizer.save_pretrained(config.output_dir)
    tracker.append_to(config.output_dir / EMISSIONS_FILE)

    best_f1 = trainer.state.best_metric
    log = {
        "base_model": base_model,
        "base_model_name": base_model_name(config.base_model),
        "max_length": max_length,
        "num_layers": int(final.config.num_hidden_layers),
        "config": _jsonable(asdict(config)),
        "training_arguments": _jsonable(config.training_arguments()),
        "train_examples": len(train_rows),
        "train_examples_available": len(train_all),
        "mid_window_examples": len(train_dataset) - len(train_rows),
        "eval_examples": len(eval_rows),
        "eval_examples_available": len(eval_all),
        "train_sample": {
            "by_source": describe(train_rows, "source"),
            "by_family": describe(train_rows, "family"),
            "by_license": describe(train_rows, "license"),
        },
        "epochs": [asdict(row) for row in epochs],
        "best_checkpoint": best,
        "best_validation_f1": best_f1,
        "global_step": trainer.state.global_step,
        "runtime_s_this_session": runtime,
        "resumed_from": resume_from,
        "hardware": {
            "device": str(trainer.args.device),
            "world_size": trainer.args.world_size,
            "torch_threads": torch.get_num_threads(),
            "cpu": platform.processor() or platform.machine(),
        },
        "framework_versions": framework_versions(),
    }
    (config.output_dir / TRAINING_LOG_FILE).write_text(
        json.dumps(log, indent=2) + "\n", encoding="utf-8"
    )
    return TrainResult(
        output_dir=config.output_dir,
        epochs=epochs,
        best_checkpoint=best,
        best_f1=best_f1,
        emissions_kg=tracker.session.emissions_kg if tracker.session else None,
        train_examples=len(train_dataset),
        eval_examples=len(eval_rows),
    )


def epoch_table(log_history: Sequence[dict[str, Any]]) -> list[EpochRow]:
    """Per-evaluation rows from Trainer's ``log_history``, each with the training loss before it."""
    rows: list[EpochRow] = []
    last_loss: float | None = None
    for entry in log_history:
        if "loss" in entry:
            last_loss = float(entry["loss"])
        if "eval_f1" in entry:
            rows.append(
                EpochRow(
                    epoch=round(float(entry.get("epoch", 0.0)), 4),
                    step=int(entry.get("step", 0)),
                    training_loss=last_loss,
                    validation_loss=float(entry["eval_loss"]),
                    accuracy=float(entry["eval_accuracy"]),
                    recall=float(entry["eval_recall"]),
                    precision=float(entry["eval_precision"]),
                    f1=float(entry["eval_f1"]),
                )
            )
    return rows


def format_epoch_table(rows: Sequence[EpochRow]) -> str:
    """The per-epoch table as markdown, in the original card's column order."""
    lines = [
        "| Training Loss | Epoch | Step | Validation Loss | Accuracy | Recall | Precision | F1 |",
        "|:-------------:|:-----:|:----:|:---------------:|:--------:|:------:|:---------:|:--:|",
    ]
    for r in rows:
        loss = "No log" if r.training_loss is None else f"{r.training_loss:.4f}"
        lines.append(
            f"| {loss} | {r.epoch:.1f} | {r.step} | {r.validation_loss:.4f} | {r.accuracy:.4f} "
            f"| {r.recall:.4f} | {r.precision:.4f} | {r.f1:.4f} |"
        )
    return "\n".join(lines)


def framework_versions() -> dict[str, str | None]:
    """Installed versions of the libraries a model card lists."""
    names = ("transformers", "torch", "tokenizers", "accelerate", "onnxruntime", "codecarbon")
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    versions["python"] = platform.python_version()
    return versions


def _data_fingerprint(
    base_model: str,
    max_length: int,
    mid_windows: float,
    train_rows: Sequence[Example],
    eval_rows: Sequence[Example],
) -> str:
    """What a checkpoint was trained on: base model, length, and every sampled row."""
    digest = hashlib.sha256(f"{base_model}\n{max_length}\n{mid_windows}\n".encode())
    for split, rows in (("train", train_rows), ("eval", eval_rows)):
        for row in rows:
            digest.update(f"{split}\t{row.id}\t{row.label}\t{row.text}\n".encode())
    return digest.hexdigest()


def _stamp_data(checkpoint_dir: Path, fingerprint: str, *, resuming: bool) -> None:
    """Refuse to resume checkpoints made from other data; record the data of a new run.

    Changing epochs or other schedule settings on resume is allowed (extending a run is a normal
    use of ``--resume``); changing the sampled rows, base model or max_length is not.
    """
    stamp = checkpoint_dir / DATA_STAMP_FILE
    if resuming and stamp.is_file() and stamp.read_text(encoding="utf-8").strip() != fingerprint:
        raise ConfigError(
            f"{checkpoint_dir} holds checkpoints trained on other data (the corpus, sampling, base "
            "model or max_length changed since); choose another --out or delete the checkpoints"
        )
    if resuming and not stamp.is_file():
        logger.warning("%s has no data fingerprint; cannot check the resumed data", checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint + "\n", encoding="utf-8")


def _resume_point(checkpoint_dir: Path, *, resume: bool) -> str | None:
    last = get_last_checkpoint(str(checkpoint_dir)) if checkpoint_dir.is_dir() else None
    if last is not None and not resume:
        raise ConfigError(
            f"{checkpoint_dir} already holds checkpoints (newest {Path(last).name}); pass --resume "
            "to continue that run, or choose another --out"
        )
    if resume and last is None:
        logger.warning("--resume: no checkpoint under %s; starting from scratch", checkpoint_dir)
    elif last is not None:
        logger.info("resuming from %s", last)
    return last


def _compute_metrics(eval_pred: Any) -> dict[str, float]:
    logits, labels = eval_pred
    predictions = np.asarray(logits).argmax(axis=-1)
    m = binary_metrics(np.asarray(labels), predictions)
    # Trainer needs numbers; the validation sample always holds both labels (checked above).
    return {
        "accuracy": m.accuracy,
        "recall": m.recall or 0.0,
        "precision": m.precision or 0.0,
        "f1": m.f1 or 0.0,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class _EncodedDataset:
    """Pre-tokenised examples (no padding; DataCollatorWithPadding pads each batch)."""

    def __init__(self, tokenizer: Any, rows: Sequence[Example], *, max_length: int) -> None:
        encoded = tokenizer(
            [row.text for row in rows], truncation=True, max_length=max_length, padding=False
        )
        keys = list(encoded.keys())
        self._items = [
            {**{k: encoded[k][i] for k in keys}, "labels": row.label} for i, row in enumerate(rows)
        ]

    def extend(self, items: Sequence[dict[str, Any]]) -> None:
        """Append pre-encoded items (``input_ids``, ``attention_mask``..., ``labels``)."""
        self._items.extend(items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self._items[index]


class _EpochCheckpoint(TrainerCallback):
    """Save a checkpoint at the end of every epoch, after its evaluation (so best-by-F1 can point at
    it), in addition to the step checkpoints."""

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        control.should_save = True
        return control


class _ProgressReport(TrainerCallback):
    """Report step, loss, rate and ETA through a callback at every logging step."""

    def __init__(self, report: Callable[[str], None]) -> None:
        self._report = report
        self._start: float | None = None
        self._start_step = 0

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._start = time.time()
        self._start_step = state.global_step

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if self._start is None or not logs:
            return
        done = state.global_step - self._start_step
        elapsed = time.time() - self._start
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (state.max_steps - state.global_step) / rate if rate > 0 else float("nan")
        parts = [f"step {state.global_step}/{state.max_steps}", f"epoch {state.epoch or 0:.2f}"]
        parts += [f"{k} {v:.4g}" for k, v in logs.items() if isinstance(v, float) and k != "epoch"]
        per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps
        parts.append(f"{rate * per_step * args.world_size:.1f} ex/s")
        parts.append(f"ETA {_hms(left)}")
        self._report(" | ".join(parts))


def _hms(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
