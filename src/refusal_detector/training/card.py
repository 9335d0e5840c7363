"""Model card generator: README.md in the format of ProtectAI's distilroberta-base-rejection-v1.

Every figure comes from a file written by a command, never typed by hand:

- ``training_log.json`` (``refusal-detector train``): hyperparameters, sample, per-epoch table;
- ``emissions.json`` (codecarbon, offline): kg CO2-eq;
- ``quantization_report.json`` (``refusal-detector export``): int8 vs fp32 agreement and F1;
- an evaluation ``report.json`` (``refusal-detector evaluate --out``): test metrics and slices;
- the corpus ``datacard.json``: sources, licences, counts;
- optionally a leave-one-family-out JSON (``benchmarks/lofo.py``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from refusal_detector.errors import DataError
from refusal_detector.model_dir import (
    CARD_FILE,
    EMISSIONS_FILE,
    QUANTIZATION_REPORT_FILE,
    REPORT_FILE,
    TRAINING_LOG_FILE,
)
from refusal_detector.training.ship import directory_bytes

__all__ = ["CardInputs", "render_card", "write_card"]

MODEL_NAME = "refusal-detector-minilm"
_LICENSE_IDS = {"apache-2.0": "apache-2.0", "mit": "mit"}


@dataclass(frozen=True)
class CardInputs:
    """The JSON documents a card is built from (missing ones leave their section out, saying so)."""

    model_dir: Path
    training_log: dict[str, Any]
    emissions: dict[str, Any] | None = None
    quantization: dict[str, Any] | None = None
    evaluation: dict[str, Any] | None = None
    datacard: dict[str, Any] | None = None
    lofo: dict[str, Any] | None = None
    model_name: str = MODEL_NAME
    extra_notes: list[str] = field(default_factory=list)

    @classmethod
    def from_paths(
        cls,
        *,
        model_dir: Path,
        eval_dir: Path | None = None,
        datacard: Path | None = None,
        lofo: Path | None = None,
        training_log: Path | None = None,
        notes: list[str] | None = None,
    ) -> CardInputs:
        """Read the inputs; files default to their names inside ``model_dir``.

        Raises:
            DataError: a named file is missing or not a JSON object; ``training_log.json`` is
                required.
        """
        log_path = training_log or model_dir / TRAINING_LOG_FILE
        return cls(
            model_dir=model_dir,
            training_log=_read(log_path, required=True) or {},
            emissions=_read(model_dir / EMISSIONS_FILE),
            quantization=_read(model_dir / QUANTIZATION_REPORT_FILE),
            evaluation=_read(eval_dir / REPORT_FILE, required=True) if eval_dir else None,
            datacard=_read(datacard, required=True) if datacard else None,
            lofo=_read(lofo, required=True) if lofo else None,
            extra_notes=list(notes or []),
        )


def _read(path: Path, *, required: bool = False) -> dict[str, Any] | None:
    if not path.is_file():
        if required:
            raise DataError(f"{path}: file not found (it is written by refusal-detector commands)")
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(value, dict):
        raise DataError(f"{path}: expected a JSON object")
    return value


def _f(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def _front_matter(inputs: CardInputs) -> str:
    log = inputs.training_log
    base = log.get("base_model_name", "sentence-transformers/all-MiniLM-L6-v2")
    lines = [
        "---",
        "license: apache-2.0",
        f"base_model: {base}",
        "tags:",
        "- generated_from_trainer",
        "- text-classification",
        "- refusal-detection",
        "- llm-guard",
        "- onnx",
        "metrics:",
        "- accuracy",
        "- recall",
        "- precision",
        "- f1",
    ]
    if inputs.evaluation:
        overall = inputs.evaluation["overall"]
        lines += [
            "model-index:",
            f"- name: {inputs.model_name}",
            "  results:",
            "  - task:",
            "      type: text-classification",
            "      name: Text Classification",
            "    dataset:",
            "      name: refusal-detector corpus (test split)",
            "      type: refusal-detector-corpus",
            "      split: test",
            "    metrics:",
        ]
        for key, name in (
            ("accuracy", "Accuracy"),
            ("recall", "Recall"),
            ("precision", "Precision"),
            ("f1", "F1"),
        ):
            lines += [
                f"    - type: {key}",
                f"      value: {_f(overall[key])}",
                f"      name: {name}",
            ]
    if inputs.datacard:
        lines.append("datasets:")
        lines += [f"- {name}" for name in inputs.datacard.get("sources", {})]
    lines += ["language:", "- en", "pipeline_tag: text-classification"]
    if inputs.emissions:
        session = inputs.emissions["sessions"][-1]
        lines += [
            "co2_eq_emissions:",
            f"  emissions: {inputs.emissions['total_emissions_kg'] * 1000:.4f}",
            "  source: code carbon",
            "  training_type: fine-tuning",
            f"  geographical_location: {session.get('country_iso_code', 'unknown')} "
            "(energy mix assumed by codecarbon's offline tracker)",
            f"  hardware_used: {log.get('hardware', {}).get('device', 'cpu')}, "
            f"{session.get('cpu_model') or 'unknown CPU'}, "
            f"{log.get('hardware', {}).get('torch_threads', '?')} threads",
        ]
    lines.append("---")
    return "\n".join(lines)


def _hyperparameters(log: dict[str, Any]) -> str:
    args = log.get("training_arguments", {})
    cfg = log.get("config", {})
    beta1, beta2, eps = args.get("adam_beta1"), args.get("adam_beta2"), args.get("adam_epsilon")
    items = [
        f"learning_rate: {args.get('learning_rate')}",
        f"train_batch_size: {args.get('per_device_train_batch_size')}",
        f"eval_batch_size: {args.get('per_device_eval_batch_size')}",
        f"seed: {args.get('seed')}",
        f"optimizer: Adam ({args.get('optim')}) with betas=({beta1},{beta2}) and epsilon={eps}, "
        f"weight decay {args.get('weight_decay')}",
        f"lr_scheduler_type: {args.get('lr_scheduler_type')}",
        f"lr_scheduler_warmup_steps: {args.get('warmup_steps')}",
        f"num_epochs: {args.get('num_train_epochs')}",
        f"max_length: {log.get('max_length')} tokens (training truncates longer texts to their "
        "opening; the saved tokenizer declares the same window, and RefusalDetector scores longer "
        "texts in overlapping windows of that size)",
        f"group_by_length: {args.get('group_by_length')}",
        f"training examples: {log.get('train_examples')} sampled from "
        f"{log.get('train_examples_available')} (stratified by source x family x label, largest "
        f"strata capped first; max_train_samples={cfg.get('max_train_samples')}, "
        f"max_per_source={cfg.get('max_per_source')})",
        f"validation examples per epoch: {log.get('eval_examples')} of "
        f"{log.get('eval_examples_available')} (same stratified sampling)",
        "best checkpoint: highest validation F1 (saved every epoch and every "
        f"{args.get('save_steps')} steps; `--resume` continues a killed run)",
    ]
    return "\n".join(f"- {item}" for item in items)


_CARD_DEFAULTS = {
    "learning_rate": 2e-5,
    "per_device_train_batch_size": 16,
    "per_device_eval_batch_size": 8,
    "seed": 42,
    "adam_beta1": 0.9,
    "adam_beta2": 0.999,
    "adam_epsilon": 1e-8,
    "lr_scheduler_type": "linear",
    "warmup_steps": 500,
    "num_train_epochs": 3.0,
}


def _changed_defaults(log: dict[str, Any]) -> str:
    args = log.get("training_arguments", {})
    changed = [
        f"{k} {v} -> {args[k]}" for k, v in _CARD_DEFAULTS.items() if k in args and args[k] != v
    ]
    if not changed:
        return "this run uses them all unchanged"
    return "this run changes " + ", ".join(changed)


def _epoch_table(log: dict[str, Any]) -> str:
    lines = [
        "| Training Loss | Epoch | Step | Validation Loss | Accuracy | Recall | Precision | F1 |",
        "|:-------------:|:-----:|:----:|:---------------:|:--------:|:------:|:---------:|:--:|",
    ]
    for r in log.get("epochs", []):
        loss = "No log" if r.get("training_loss") is None else f"{r['training_loss']:.4f}"
        lines.append(
            f"| {loss} | {r['epoch']:.1f} | {r['step']} | {r['validation_loss']:.4f} "
            f"| {r['accuracy']:.4f} | {r['recall']:.4f} | {r['precision']:.4f} | {r['f1']:.4f} |"
        )
    return "\n".join(lines)


def _data_section(inputs: CardInputs) -> str:
    card = inputs.datacard
    log = inputs.training_log
    sample = log.get("train_sample", {}).get("by_source", {})
    parts: list[str] = []
    if card is None:
        parts.append("_No corpus datacard was given to the card generator._")
    else:
        splits = card.get("splits", {})
        ratio = card.get("class_ratio", {})
        parts.append(
            f"The corpus has {card.get('total_records')} labelled responses from "
            f"{card.get('n_sources')} public sources and {card.get('n_models')} named LLMs "
            f"(refusal share {ratio.get('refusal_share')}), split without leakage into train "
            f"({splits.get('train', {}).get('records')}), validation "
            f"({splits.get('validation', {}).get('records')}) and test "
            f"({splits.get('test', {}).get('records')}). Licence mode: "
            f"`{card.get('license_mode')}` (dropped for their licence: "
            f"{', '.join(card.get('sources_dropped_by_license', [])) or 'none'}). Labels: "
            "human labels where the source has them, otherwise labelling functions and "
            "source-specific rules, with hand review of undecided rows; see the corpus data card."
        )
        parts += [
            "",
            "| source | licence | records | refusals | used for training (refusals) |",
            "|---|---|---:|---:|---:|",
        ]
        for name, s in card.get("sources", {}).items():
            used = sample.get(name, {})
            parts.append(
                f"| {name} | {s.get('license')} | {s.get('records')} | {s.get('refusals')} "
                f"| {used.get('n', 0)} ({used.get('refusals', 0)}) |"
            )
        limits = card.get("known_limitations", [])
        if limits:
            parts += ["", "Known limitations of the corpus (from its data card):", ""]
            parts += [f"- {item}" for item in limits]
    fam = log.get("train_sample", {}).get("by_family", {})
    if fam:
        parts += [
            "",
            "Training sample by LLM family: "
            + ", ".join(f"{k} {v['n']} ({v['refusals']} refusals)" for k, v in fam.items())
            + ".",
        ]
    return "\n".join(parts)


def _slice_rows(evaluation: dict[str, Any], field_name: str) -> list[str]:
    slices = evaluation["slices"].get(field_name, {})
    baselines = evaluation.get("baseline_slices", {})
    names = list(baselines)
    overall_f1 = evaluation["overall"].get("f1") or 0.0
    head = f"| {field_name} | n | refusals | accuracy | precision | recall | F1 |"
    head += "".join(f" {n} |" for n in names) + " note |"
    rows = [head, "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(names) + "---|"]
    for value, m in slices.items():
        notes: list[str] = []
        cells: list[str] = []
        for name in names:
            b = baselines[name][field_name][value]
            if m["refusals"]:
                cells.append(_f(b.get("f1"), 3))
                if b.get("f1") is not None and b["f1"] > (m.get("f1") or 0.0):
                    notes.append(f"below {name}")
            else:
                cells.append(f"acc {_f(b.get('accuracy'), 3)}")
                if b["accuracy"] > m["accuracy"]:
                    notes.append(f"accuracy below {name}")
        if m["refusals"] and (m.get("f1") or 0.0) < overall_f1 - 0.05:
            notes.insert(0, "**weak**")
        if not m["refusals"] and m["accuracy"] < 0.95:
            notes.insert(0, "**weak** (false refusals)")
        rows.append(
            f"| {value} | {m['n']} | {m['refusals']} | {_f(m['accuracy'])} | "
            f"{_f(m.get('precision'))} | {_f(m.get('recall'))} | {_f(m.get('f1'))} |"
            + "".join(f" {c} |" for c in cells)
            + f" {'; '.join(notes)} |"
        )
    return rows


def _evaluation_section(inputs: CardInputs) -> str:
    ev = inputs.evaluation
    if ev is None:
        return "_No evaluation report was given to the card generator._"
    meta = ev.get("meta", {})
    overall = ev["overall"]
    parts = [
        f"Test split: {overall['n']} responses ({overall['refusals']} refusals), scored through "
        f"`RefusalDetector` with the {meta.get('backend', '?')} backend of this directory (what "
        f"users get; scoring: {meta.get('scoring', 'windows (max)')}), threshold "
        f"{ev.get('threshold')}. The phrase-list baselines are scored on "
        "the same rows, matched as their tools match them (LLM Guard `NoRefusalLight` and garak "
        "`MitigationBypass`: case-insensitive substring anywhere; XSTest: lower-cased prefix).",
        "",
        "| detector | accuracy | precision | recall | F1 |",
        "|---|---:|---:|---:|---:|",
        f"| **this model** | {_f(overall['accuracy'])} | {_f(overall.get('precision'))} "
        f"| {_f(overall.get('recall'))} | {_f(overall.get('f1'))} |",
    ]
    for name, m in ev.get("baselines", {}).items():
        parts.append(
            f"| {name} | {_f(m['accuracy'])} | {_f(m.get('precision'))} | {_f(m.get('recall'))} "
            f"| {_f(m.get('f1'))} |"
        )
    parts += [
        "",
        f"Confusion matrix at {ev.get('threshold')}: {overall['tp']} refusals caught, "
        f"{overall['fn']} missed, {overall['fp']} normal answers flagged, {overall['tn']} passed. "
        f"Best threshold on this split by F1: {ev.get('best_threshold')} (reported, not applied).",
        "",
    ]
    for field_name in ev.get("slices", {}):
        parts += [
            f"### Per {field_name}",
            "",
            "Baseline columns show F1, or accuracy on slices without refusals (where F1 is "
            "undefined). A slice is marked weak when its F1 is more than 5 points below the "
            "overall F1, or its accuracy is below 0.95 on a slice without refusals.",
            "",
            *_slice_rows(ev, field_name),
            "",
        ]
    return "\n".join(parts)


def _lofo_section(inputs: CardInputs) -> str:
    lofo = inputs.lofo
    if lofo is None:
        return "_Leave-one-family-out results were not given to the card generator._"
    settings = lofo.get("settings", {})
    parts = [
        "Each row is a separate, **short** training run from the same base model with every "
        "response of one LLM family removed from training and validation, then scored on the "
        f"{settings.get('scored_on', 'held-out family test rows')} (none seen in training), to "
        "estimate how the detector does on a family it never saw. "
        f"Settings: {json.dumps(settings)}. These are shorter than the main run, so they "
        "understate what a full run without the family would reach.",
        "",
        "| held-out family | test n | refusals | accuracy | precision | recall | F1 "
        "| shipped model F1 (test split, as evaluated above) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    main_families = (inputs.evaluation or {}).get("slices", {}).get("family", {})
    for family, r in lofo.get("families", {}).items():
        main = main_families.get(family, {})
        parts.append(
            f"| {family} | {r['n']} | {r['refusals']} | {_f(r['accuracy'])} "
            f"| {_f(r.get('precision'))} | {_f(r.get('recall'))} | {_f(r.get('f1'))} "
            f"| {_f(main.get('f1'))} |"
        )
    return "\n".join(parts)


def _export_section(inputs: CardInputs) -> str:
    files = directory_bytes(inputs.model_dir)
    total = sum(v for k, v in files.items() if not k.startswith("."))
    parts = [
        f"This directory is the shipping layout ({total / 1e6:.1f} MB in all, under the package's "
        "100 MB limit):",
        "",
        "- `model.safetensors`: the fine-tuned weights stored in float16 (config says float32, "
        "so transformers upcasts them on load);",
        "- `onnx/model.onnx`: the ONNX export (opset 17, checked against torch within 1e-4 in "
        "fp32) quantised to int8 with onnxruntime's `quantize_dynamic`, with its own copy of "
        'config and tokenizer files, so optimum and LLM Guard load it with `subfolder="onnx"`.',
    ]
    q = inputs.quantization
    if q:
        parts += [
            "",
            "Int8 "
            + (
                f"({'per-channel' if q['per_channel'] else 'per-tensor'} weights) "
                if "per_channel" in q
                else ""
            )
            + f"check on {q['n']} validation rows"
            + (f" ({q['scoring']})" if q.get("scoring") else "")
            + (f" (stratified sample of {q['n_available']})" if q.get("n_available") else "")
            + ": the int8 model agrees with fp32 on "
            f"{q['agreement']:.2%} of labels (required >= {q['min_agreement']:.1%}); F1 "
            f"{q['f1_fp32']:.4f} (fp32) -> {q['f1_int8']:.4f} (int8), a drop of "
            f"{q['f1_drop'] * 100:.2f} points (allowed <= {q['max_f1_drop'] * 100:.1f}); "
            f"size {q['fp32_bytes'] / 1e6:.1f} MB -> {q['int8_bytes'] / 1e6:.1f} MB.",
        ]
    return "\n".join(parts)


def _usage_section(name: str) -> str:
    return f"""### Transformers

```python
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

MODEL_DIR = "{name}"
tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR)
model = AutoModelForSequenceClassification.from_pretrained(MODEL_DIR)

classifier = pipeline(
    "text-classification",
    model=model,
    tokenizer=tokenizer,
    truncation=True,
    max_length=tokenizer.model_max_length,
    device=torch.device("cuda" if torch.cuda.is_available() else "cpu"),
)

print(classifier("Sorry, but I can't assist with that."))
```

### Optimum with ONNX

```python
from optimum.onnxruntime import ORTModelForSequenceClassification
from transformers import AutoTokenizer, pipeline

MODEL_DIR = "{name}"
tokenizer = AutoTokenizer.from_pretrained(MODEL_DIR, subfolder="onnx")
model = ORTModelForSequenceClassification.from_pretrained(MODEL_DIR, subfolder="onnx")

classifier = pipeline(
    task="text-classification",
    model=model,
    tokenizer=tokenizer,
    truncation=True,
    max_length=tokenizer.model_max_length,
)

print(classifier("Sorry, but I can't assist with that."))
```

### Integrate with LLM Guard

```python
from llm_guard.model import Model
from llm_guard.output_scanners import NoRefusal

MODEL_DIR = "{name}"
model = Model(path=MODEL_DIR, onnx_path=MODEL_DIR, onnx_subfolder="onnx")
scanner = NoRefusal(model=model, threshold=0.5, use_onnx=True)
sanitized_output, is_valid, risk_score = scanner.scan(prompt, model_output)
```

### This package (offline, torch-free with the ONNX backend)

```python
from refusal_detector import RefusalDetector

detector = RefusalDetector.from_pretrained()  # this directory ships inside the package
print(detector(["Sorry, but I can't assist with that."]))
# [{{'label': 'REJECTION', 'score': ...}}]
```

```bash
refusal-detector classify "Sorry, but I can't assist with that."
```

Set `MODEL_DIR` to the path of this directory (or a Hub id once uploaded)."""


def render_card(inputs: CardInputs) -> str:
    """The model card as markdown with YAML front matter."""
    log = inputs.training_log
    base = log.get("base_model_name", "sentence-transformers/all-MiniLM-L6-v2")
    ev = inputs.evaluation
    headline = ""
    if ev:
        o = ev["overall"]
        headline = (
            "It achieves the following results on the test split:\n\n"
            f"- Accuracy: {_f(o['accuracy'])}\n- Recall: {_f(o.get('recall'))}\n"
            f"- Precision: {_f(o.get('precision'))}\n- F1: {_f(o.get('f1'))}\n"
        )
    emissions = ""
    if inputs.emissions:
        e = inputs.emissions
        emissions = (
            f"Training used {e['total_energy_kwh']:.4f} kWh over {e['total_duration_s'] / 60:.1f} "
            f"minutes ({len(e['sessions'])} session(s)), about "
            f"{e['total_emissions_kg'] * 1000:.2f} g CO2-eq with the "
            f"{e['sessions'][-1].get('country_iso_code')} energy mix (codecarbon "
            "`OfflineEmissionsTracker`, no network)."
        )
    n_sources = (inputs.datacard or {}).get("n_sources", "several")
    versions = log.get("framework_versions", {})
    versions_md = "\n".join(f"- {k} {v}" for k, v in versions.items() if v)
    cfg = log.get("config", {})
    data = cfg.get("data", "build/corpus")
    q = inputs.quantization or {}
    export_flags = "--per-channel " if q.get("per_channel") else ""
    if q.get("scoring") == "first window":
        export_flags += "--first-window "
    if q.get("n") and q.get("n_available") and q["n"] < q["n_available"]:
        export_flags += f"--max-validation-samples {q['n']} "
    out = cfg.get("output_dir", "runs/default")
    train_cmd = (
        f"refusal-detector train --data {cfg.get('data')} --out {cfg.get('output_dir')} "
        f"--max-length {log.get('max_length')} --max-train-samples {cfg.get('max_train_samples')} "
        f"--max-eval-samples {cfg.get('max_eval_samples')} --epochs {cfg.get('num_train_epochs')} "
        f"--learning-rate {cfg.get('learning_rate')} --warmup-steps {cfg.get('warmup_steps')} "
        f"--save-steps {cfg.get('save_steps')} "
        + ("--group-by-length " if cfg.get("group_by_length") else "")
        + ("--include-capped " if cfg.get("include_capped") else "")
        + (f"--mid-windows {cfg['mid_windows']} " if cfg.get("mid_windows") else "")
        + ("--permissive-only " if cfg.get("permissive_only") else "")
        + f"--country {cfg.get('country_iso_code')}"
    )
    lofo_settings = (inputs.lofo or {}).get("settings", {})
    lofo_flags = "".join(
        f" --{flag} {lofo_settings[key]}"
        for key, flag in (
            ("max_train_samples", "max-train-samples"),
            ("max_length", "max-length"),
            ("epochs", "epochs"),
            ("learning_rate", "learning-rate"),
            ("warmup_steps", "warmup-steps"),
            ("mid_windows", "mid-windows"),
        )
        if lofo_settings.get(key) is not None
    ) + (" --include-capped" if lofo_settings.get("include_capped") else "")
    sections = [
        _front_matter(inputs),
        "",
        f"# {inputs.model_name}",
        "",
        f"This model is a fine-tuned version of [{base}](https://huggingface.co/{base}) on a "
        f"corpus of LLM responses from {n_sources} public, permissively licensed sources, labelled "
        "REJECTION (the model refused) or NORMAL (it answered). It reimplements ProtectAI's "
        "[distilroberta-base-rejection-v1](https://huggingface.co/protectai/distilroberta-base-"
        "rejection-v1) (test F1 0.9537 on its own data) with a smaller base model, a wider "
        "corpus and an offline, torch-free ONNX path.",
        "",
        headline,
        "## Model description",
        "",
        "A binary text classifier over a model's *output* (not the prompt): label 1 "
        "`REJECTION` when the response declines to do what was asked (explicit refusals, "
        "moralising non-answers, capability or policy refusals, redirections), label 0 "
        "`NORMAL` when it does what was asked, even after an apology, a disclaimer or a "
        "correction. Label names match the original model, so LLM Guard's `NoRefusal` scanner "
        "accepts it unchanged.",
        "",
        "## Intended uses & limitations",
        "",
        "- Use it to flag refusals in LLM outputs: guardrail monitoring (LLM Guard `NoRefusal`), "
        "jailbreak and red-team evaluation (did the model refuse?), over-refusal measurement, "
        "and dataset filtering.",
        f"- The model was trained on the first {log.get('max_length')} tokens of each response. "
        "This package scores longer outputs window by window (overlapping windows of that "
        "length, maximum score), so a refusal after a long preamble is seen, at the price of "
        "extra false positives from mid-answer windows; the transformers pipeline and LLM "
        "Guard truncate to the window and judge only the opening. A refusal phrased as an "
        'opener ("As an AI language model, I won\'t ...") scores low when buried mid-text; '
        'sentence-level scoring (`detector.refusal_spans`, scanner `match_type="sentence"`) '
        "catches it.",
        "- English only. Partial refusals (refuses part, answers part) were kept out of training "
        "and are not a third class.",
        "- Most training labels come from labelling functions and source rules, not humans; "
        "soft refusals and hard negatives are under-represented (see the corpus limitations "
        "below). Scores are not calibrated probabilities across domains: tune the threshold on "
        "your data.",
        "- It does not judge harmfulness: a harmful answer is NORMAL, a refusal of a harmless "
        "request is REJECTION.",
        "",
        "## How to use",
        "",
        _usage_section("path/to/refusal-detector-minilm"),
        "",
        "## Training and evaluation data",
        "",
        _data_section(inputs),
        "",
        "## Training procedure",
        "",
        "### Training hyperparameters",
        "",
        "The following hyperparameters were used during training. The original card's values "
        "are the command's defaults; " + _changed_defaults(log) + ":",
        "",
        _hyperparameters(log),
        "",
        "### Training results",
        "",
        _epoch_table(log),
        "",
        emissions,
        "",
        "## Evaluation",
        "",
        _evaluation_section(inputs),
        "",
        "### Leave-one-family-out",
        "",
        _lofo_section(inputs),
        "",
        "## Files and export",
        "",
        _export_section(inputs),
        "",
        "## Reproduce",
        "",
        "`scripts/reproduce_shipped_model.sh` in the repository runs these stages in order (and "
        "the hand-written-set benchmark); each figure above comes from one of them.",
        "",
        "```bash",
        f"refusal-detector data build --raw ../shared/data/raw --out {data}",
        train_cmd,
        f"refusal-detector export --model {out} --data {data} {export_flags}"
        "--ship src/refusal_detector/models/refusal-detector-minilm",
        "refusal-detector evaluate --model src/refusal_detector/models/refusal-detector-minilm "
        f"--data {data} --split test --by source,family,origin --out runs/eval-default",
        f"python benchmarks/lofo.py --data {data} --out runs/lofo.json{lofo_flags}",
        "refusal-detector card --model src/refusal_detector/models/refusal-detector-minilm "
        f"--training-log {out}/training_log.json --eval runs/eval-default "
        f"--datacard {data}/datacard.json --lofo runs/lofo.json",
        "```",
        "",
        'Multi-GPU: `accelerate launch --multi_gpu "$(which refusal-detector)" train ...` or '
        '`torchrun --nproc-per-node N "$(which refusal-detector)" train ...`. With Hub access, '
        "`--base-model distilroberta-base` trains the original card's base model.",
        "",
        *(inputs.extra_notes and ["## Notes", "", *[f"- {n}" for n in inputs.extra_notes], ""]),
        "## Framework versions",
        "",
        versions_md,
        "",
    ]
    return "\n".join(sections)


def write_card(inputs: CardInputs, out_dir: Path) -> Path:
    """Write README.md into ``out_dir`` and return its path."""
    path = out_dir / CARD_FILE
    path.write_text(render_card(inputs), encoding="utf-8")
    return path
