"""adaptive_attacks: Claude, Mistral, Llama-2, R2D2 and Gemma responses to 50 AdvBench behaviours.

Three layouts (see PROVENANCE.md):

- Claude transfer/prefilling logs: a ``<i>: <goal>`` line, then per restart ``<k>: <score>`` and
  the response, with ``gpt4 judge: ...`` lines between behaviours. Goal lines are recognised only
  when they match behaviour ``i`` of ``harmful_behaviors_pair.csv``. The attack prompt is not in
  the logs, so the prompt is the behaviour itself. Untagged responses (a few in the haiku
  prefilling log, without a score) are skipped: their boundaries are ambiguous.
- random-search logs (``main.py``): per behaviour an ``Original message:`` prompt and three
  responses (``noadv``, ``orig``, ``final``) with the judge scores ``a/10->b/10->c/10``.
- JailbreakBench-format JSON (gemma-7b only; gpt-3.5 duplicates jailbreakbench_artifacts).

Traps handled: 100 (or 10) resampled responses per behaviour -> exact dedup and at most
``CAP_PER_LOG_BEHAVIOUR`` distinct responses per (log file, behaviour); the GPT-4 judge score is
about harm, so it is only a weak vote (``meta["jailbroken"]``: score 10 -> True, score 1 ->
False, else None) converted by the explicit rules of ``apply_source_rules``; Claude-3-Sonnet's
French/Spanish/Russian outputs are excluded (the labelling functions read English only); logs that
overlap jailbreakbench_artifacts (llama-2-7b, vicuna, gpt-3.5, gpt-4) are not read. Responses are
truncated at 150 tokens (logs) or 150-500 tokens (random search).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from refusal_detector.data.adapters._io import read_csv, read_json, require
from refusal_detector.data.adapters._resample import cap_per_group, looks_non_english
from refusal_detector.data.prompt_groups import behaviour_group
from refusal_detector.data.records import Candidate, LicenseClass, candidate_maker

NAME = "adaptive_attacks"
LICENSE = "MIT"
LICENSE_CLASS: LicenseClass = "permissive"
CAP_PER_LOG_BEHAVIOUR = 12

# Claude log file stem -> model name
CLAUDE_LOGS = {
    "exps_claude_1.2_transfer": "claude-instant-1.2",
    "exps_claude_2.0_transfer": "claude-2.0",
    "exps_claude_2.1_transfer": "claude-2.1",
    "exps_claude_2.1_prefilling": "claude-2.1",
    "exps_claude_3_haiku_transfer": "claude-3-haiku-20240307",
    "exps_claude_3_haiku_prefilling": "claude-3-haiku-20240307",
    "exps_claude_3_sonnet_transfer": "claude-3-sonnet-20240229",
    "exps_claude_3_opus_transfer": "claude-3-opus-20240229",
    "exps_claude_3.5_sonnet_transfer": "claude-3-5-sonnet-20240620",
    "exps_claude_3.5_sonnet_prefilling": "claude-3-5-sonnet-20240620",
}
# random-search log stem -> model name (llama2-7b, vicuna, gpt-3.5, gpt-4 are in
# jailbreakbench_artifacts already)
SEARCH_LOGS = {
    "exps_mistral-7b_simplified_template": "mistral-7b-instruct",
    "exps_r2d2": "zephyr-7b-r2d2",
    "exps_llama2-13b": "llama-2-13b-chat",
    "exps_llama2-13b_icl_one_shot": "llama-2-13b-chat",
    "exps_llama2-70b": "llama-2-70b-chat",
    "exps_phi3": "phi-3-mini-128k-instruct",
}
JSON_ARTIFACTS = {"exps_gemma-7b": "gemma-7b-it"}

_HEADER = re.compile(r"^(\d+): (\d+)$")
_GOAL = re.compile(r"^(\d+): (.+)$")
_SCORES = re.compile(r"judge_llm_score=([0-9/>\-]+)")
_SEARCH_FIELDS = ("noadv_response_text: ", "orig_response_text: ", "final_response_text: ")


def _vote(score: int | None) -> bool | None:
    return True if score == 10 else False if score == 1 else None


def load_behaviours(root: Path) -> list[str]:
    """The 50 goals of ``harmful_behaviors/harmful_behaviors_pair.csv`` in file order."""
    path = root / NAME / "harmful_behaviors" / "harmful_behaviors_pair.csv"
    return [row["goal"].strip() for _, row in read_csv(path, columns={"goal"})]


def parse_claude_log(text: str, goals: list[str]) -> Iterator[tuple[int, int, str]]:
    """(behaviour index, judge score, response) of every scored response in a Claude log."""
    goal_lines = {f"{i}: {g}": i for i, g in enumerate(goals)}
    behaviour: int | None = None
    score: int | None = None
    buf: list[str] = []

    def flush() -> Iterator[tuple[int, int, str]]:
        body = "\n".join(buf).strip()
        if behaviour is not None and score is not None and body:
            yield behaviour, score, body

    for line in text.split("\n"):
        stripped = line.strip()
        header = _HEADER.match(stripped)
        if stripped in goal_lines or header or stripped.startswith("gpt4 judge:"):
            yield from flush()
            buf, score = [], None
            if stripped in goal_lines:
                behaviour = goal_lines[stripped]
            elif header:
                score = int(header.group(2))
            continue
        if score is not None:
            buf.append(line)
    yield from flush()


def parse_search_log(text: str) -> Iterator[tuple[int, str, str, str, int | None]]:
    """(behaviour index, prompt, response field, response, judge score) of a random-search log."""
    blocks = text.split("Original message: ")[1:]
    for i, block in enumerate(blocks):
        prompt = block.split("\nit=1 ", 1)[0].strip()
        scores_m = _SCORES.search(block)
        scores = scores_m.group(1).split("->") if scores_m else []
        values = [int(s.split("/")[0]) if s.split("/")[0].isdigit() else None for s in scores]
        for j, field in enumerate(_SEARCH_FIELDS):
            start = block.find("\n" + field)
            if start < 0:
                continue
            rest = block[start + 1 + len(field) :]
            ends = [rest.find("\n" + f) for f in _SEARCH_FIELDS] + [rest.find("\nmax_prob=")]
            end = min([e for e in ends if e >= 0], default=len(rest))
            response = rest[:end].strip()
            # scores are in field order; a log with fewer scores aligns them on the last fields
            k = j - (len(_SEARCH_FIELDS) - len(values))
            score = values[k] if 0 <= k < len(values) else None
            if response:
                yield i, prompt, field.split("_", 1)[0], response, score


def _candidate(
    text: str, prompt: str, model: str, subset: str, goal: str, score: int | None
) -> Candidate:
    return _row(
        text=text,
        prompt=prompt,
        model_raw=model,
        subset=subset,
        group=behaviour_group(goal),
        exclude_reason="non_english" if looks_non_english(text) else None,
        meta={"jailbroken": _vote(score), "judge_score": score, "behavior": goal},
    )


def _read_all(root: Path) -> Iterator[Candidate]:
    goals = load_behaviours(root)
    logs = require(root / NAME / "attack_logs")
    for stem, model in CLAUDE_LOGS.items():
        text = require(logs / f"{stem}.log").read_text(encoding="utf-8", errors="replace")
        for b, score, response in parse_claude_log(text, goals):
            yield _candidate(response, goals[b], model, stem, goals[b], score)
    for stem, model in SEARCH_LOGS.items():
        text = require(logs / f"{stem}.log").read_text(encoding="utf-8", errors="replace")
        for b, prompt, field, response, judged in parse_search_log(text):
            goal = goals[b] if b < len(goals) else prompt
            yield _candidate(response, prompt, model, f"{stem}:{field}", goal, judged)
    for stem, model in JSON_ARTIFACTS.items():
        data = read_json(root / NAME / "jailbreak_artifacts" / f"{stem}.json")
        for item in data.get("jailbreaks", []):
            if not item.get("response") or not item.get("prompt"):
                continue
            cand = _candidate(
                str(item["response"]), str(item["prompt"]), model, stem, str(item["goal"]), None
            )
            cand.meta["jailbroken"] = bool(item.get("jailbroken"))
            yield cand


def read(root: Path) -> Iterator[Candidate]:
    """Yield at most ``CAP_PER_LOG_BEHAVIOUR`` distinct responses per (log file, behaviour)."""
    yield from cap_per_group(
        _read_all(root), lambda c: f"{c.subset.split(':')[0]}\x1f{c.group}", CAP_PER_LOG_BEHAVIOUR
    )


# Candidate with this source's name and licence filled in (read() looks it up when it runs)
_row = candidate_maker(NAME, LICENSE, LICENSE_CLASS)
