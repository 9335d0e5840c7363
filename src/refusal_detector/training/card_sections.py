"""The computed sections of the model card; the prose around them is ``templates/model_card.md``.

Each function turns one input document of :class:`~refusal_detector.training.card.CardInputs`
(training log, evaluation report, corpus data card, quantisation report, emissions, LOFO results)
into the markdown of one section, saying so where the input is missing instead of inventing it.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from refusal_detector.data.records import DATACARD_JSON
from refusal_detector.model_dir import ONNX_FILE, ONNX_SUBDIR, SAFETENSORS_FILE, TRAINING_LOG_FILE
from refusal_detector.training.config import PACKAGED_BASE_MODEL, TrainConfig
from refusal_detector.training.ship import directory_bytes

if TYPE_CHECKING:
    from refusal_detector.training.card import CardInputs

__all__ = [
    "SHIPPED_DIR",
    "changed_defaults",
    "data_section",
    "emissions",
    "epoch_table",
    "evaluation_section",
    "export_section",
    "front_matter",
    "headline",
    "hyperparameters",
    "notes",
    "reproduce_commands",
]

SHIPPED_DIR = "src/refusal_detector/models/refusal-detector-minilm"
"""Where the Reproduce commands ship the model (the package's default model directory)."""


def _f(value: Any, digits: int = 4) -> str:
    return "-" if value is None else f"{float(value):.{digits}f}"


def front_matter(inputs: CardInputs) -> str:
    log = inputs.training_log
    base = log.get("base_model_name", PACKAGED_BASE_MODEL)
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


def hyperparameters(log: dict[str, Any]) -> str:
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
        *_start_items(log),
    ]
    return "\n".join(f"- {item}" for item in items)


def later_round(log: dict[str, Any]) -> bool:
    """Whether the run started from a trained directory, whose pretrained ancestor the training
    log names (a first round from a local or Hub base names the base itself)."""
    base = log.get("config", {}).get("base_model")
    return base is not None and base != log.get("base_model_name")


def _start_items(log: dict[str, Any]) -> list[str]:
    """What the run started from: a trained directory, kept layers, a distillation teacher."""
    cfg = log.get("config", {})
    items = []
    base = cfg.get("base_model")
    if later_round(log):
        items.append(
            f"starting weights: the trained classifier `{base}` (a later round; its pretrained "
            f"ancestor is {log.get('base_model_name')})"
        )
    if cfg.get("num_layers") is not None:
        items.append(f"encoder layers kept: the bottom {cfg['num_layers']} (`--num-layers`)")
    if cfg.get("teacher") is not None:
        w, t = cfg.get("distill_weight"), cfg.get("distill_temperature")
        items.append(
            f"knowledge distillation from `{cfg['teacher']}`: loss (1 - {w}) x cross-entropy + "
            f"{w} x T^2 x KL(teacher || student) at T = {t}; the training and validation losses "
            "below are this loss, not comparable with a run trained on the labels alone"
        )
    return items


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


def changed_defaults(log: dict[str, Any]) -> str:
    args = log.get("training_arguments", {})
    changed = [
        f"{k} {v} -> {args[k]}" for k, v in _CARD_DEFAULTS.items() if k in args and args[k] != v
    ]
    if not changed:
        return "this run uses them all unchanged"
    return "this run changes " + ", ".join(changed)


def epoch_table(log: dict[str, Any]) -> str:
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


def data_section(inputs: CardInputs) -> str:
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


def evaluation_section(inputs: CardInputs) -> str:
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


def export_section(inputs: CardInputs) -> str:
    files = directory_bytes(inputs.model_dir)
    total = sum(v for k, v in files.items() if not k.startswith("."))
    parts = [
        f"This directory is the shipping layout ({total / 1e6:.1f} MB in all, under the package's "
        "100 MB limit):",
        "",
        f"- `{SAFETENSORS_FILE}`: the fine-tuned weights stored in float16 (config says float32, "
        "so transformers upcasts them on load);",
        f"- `{ONNX_FILE}`: the ONNX export (opset 17, checked against torch within 1e-4 in "
        "fp32) quantised to int8 with onnxruntime's `quantize_dynamic`, with its own copy of "
        "config and tokenizer files, so optimum and LLM Guard load it with "
        f'`subfolder="{ONNX_SUBDIR}"`.',
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


def headline(ev: dict[str, Any] | None) -> str:
    if not ev:
        return ""
    o = ev["overall"]
    return (
        "## Results on the corpus test split\n\n"
        "On the corpus' own test split (held-out prompt groups of the sources and families the "
        "training saw; per slice under Evaluation below), it achieves:\n\n"
        f"- Accuracy: {_f(o['accuracy'])}\n- Recall: {_f(o.get('recall'))}\n"
        f"- Precision: {_f(o.get('precision'))}\n- F1: {_f(o.get('f1'))}\n"
    )


def emissions(e: dict[str, Any] | None) -> str:
    if not e:
        return ""
    return (
        f"Training used {e['total_energy_kwh']:.4f} kWh over {e['total_duration_s'] / 60:.1f} "
        f"minutes ({len(e['sessions'])} session(s)), about "
        f"{e['total_emissions_kg'] * 1000:.2f} g CO2-eq with the "
        f"{e['sessions'][-1].get('country_iso_code')} energy mix (codecarbon "
        "`OfflineEmissionsTracker`, no network)."
    )


def _train_command(log: dict[str, Any]) -> str:
    """The train command of the run, written by TrainConfig.to_cli_args from its logged config."""
    config = TrainConfig.from_dict(
        {"data": "build/corpus", "output_dir": "runs/default", **log.get("config", {})}
    )
    return shlex.join(["refusal-detector", "train", *config.to_cli_args()])


def _export_flags(q: dict[str, Any]) -> str:
    flags = "--per-channel " if q.get("per_channel") else ""
    if q.get("scoring") == "first window":
        flags += "--first-window "
    if q.get("n") and q.get("n_available") and q["n"] < q["n_available"]:
        flags += f"--max-validation-samples {q['n']} "
    return flags


def reproduce_commands(inputs: CardInputs) -> str:
    from refusal_detector.training.card_lofo import lofo_command  # it imports this module

    cfg = inputs.training_log.get("config", {})
    data = cfg.get("data", "build/corpus")
    out = cfg.get("output_dir", "runs/default")
    q = inputs.quantization or {}
    return "\n".join(
        [
            f"refusal-detector data build --raw ../shared/data/raw --out {data}",
            _train_command(inputs.training_log),
            f"refusal-detector export --model {out} --data {data} {_export_flags(q)}"
            f"--ship {SHIPPED_DIR}",
            f"refusal-detector evaluate --model {SHIPPED_DIR} --data {data} --split test "
            "--by source,family,origin --out runs/eval-default",
            *(lofo_command(lofo, data) for lofo in [inputs.lofo, *inputs.more_lofo]),
            f"refusal-detector card --model {SHIPPED_DIR} --training-log {out}/{TRAINING_LOG_FILE} "
            f"--eval runs/eval-default --datacard {data}/{DATACARD_JSON} --lofo runs/lofo.json",
        ]
    )


def notes(notes: list[str]) -> str:
    if not notes:
        return ""
    return "## Notes\n\n" + "".join(f"- {n}\n" for n in notes) + "\n"
