"""One adapter per raw source; each maps its files onto :class:`Candidate` rows.

Every adapter module was written after reading that source's PROVENANCE.md; its docstring says
which traps it handles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from refusal_detector.data.records import Candidate, LicenseClass

__all__ = ["ADAPTERS", "Adapter"]


@dataclass(frozen=True)
class Adapter:
    """A raw source: its folder name, licence, licence class and reader."""

    name: str
    license: str
    license_class: LicenseClass
    read: Callable[[Path], Iterator[Candidate]]


from refusal_detector.data.adapters import (  # noqa: E402
    adaptive_attacks,
    alpaca_eval_outputs,
    arena_hard_answers,
    chatgpt_refusals,
    coconot,
    fastchat_bench_answers,
    gptfuzz,
    hh_rlhf_harmless_test,
    jailbreakbench_artifacts,
    jailbreakeval_judge_sets,
    jbb_judge_comparison,
    llm_self_defense,
    overrefusal_legal_orbench,
    past_tense,
    refusal_direction,
    refusal_stability,
    refusal_tokens_outputs,
    safedecoding_experts,
    safety_tuned_llamas,
    wildbench_outputs,
)

_MODULES = [
    chatgpt_refusals,
    gptfuzz,
    refusal_direction,
    jailbreakbench_artifacts,
    jbb_judge_comparison,
    jailbreakeval_judge_sets,
    llm_self_defense,
    overrefusal_legal_orbench,
    coconot,
    wildbench_outputs,
    arena_hard_answers,
    fastchat_bench_answers,
    refusal_tokens_outputs,
    hh_rlhf_harmless_test,
    safedecoding_experts,
    alpaca_eval_outputs,
    safety_tuned_llamas,
    adaptive_attacks,
    refusal_stability,
    past_tense,
]

ADAPTERS: dict[str, Adapter] = {
    m.NAME: Adapter(m.NAME, m.LICENSE, m.LICENSE_CLASS, m.read) for m in _MODULES
}
