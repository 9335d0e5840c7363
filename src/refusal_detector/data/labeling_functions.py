"""Labelling functions: several weak, explainable votes combined into a label or a review decision.

Each labelling function (LF) looks at one kind of evidence and returns a signed weight (positive:
refusal, negative: normal answer, 0: abstain). ``label_response`` sums the votes; rows with clear
one-sided evidence get a label, rows with conflicting or weak evidence go to the review queue.
The LFs deliberately mix phrase evidence with structure (code, lists, length) and hard-negative
patterns ("I'm sorry to hear that. Here's ...", "I apologize for the confusion ..."), so that a
model trained on the result does not merely learn one substring list.

Source-specific conversions of harm/jailbreak labels (``apply_source_rules``) are explicit rules
with their own names, tested in tests/test_data_labeling.py.

The LFs themselves live in :mod:`refusal_detector.data.lf_cues` and the patterns they match in
:mod:`refusal_detector.data.lf_patterns`; this module registers them (``LFS``) and combines them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from refusal_detector.data.lf_cues import (
    lf_capability,
    lf_caveat_then_answer,
    lf_code,
    lf_compliant_opening,
    lf_deflection,
    lf_disclaimer_then_content,
    lf_discourage,
    lf_evasive_opening,
    lf_false_premise,
    lf_hedged_answer,
    lf_inability_early,
    lf_length,
    lf_list_structure,
    lf_moral_opening,
    lf_moralising,
    lf_must_point_out,
    lf_pivot_to_content,
    lf_policy,
    lf_premise_rebuttal,
    lf_question_back,
    lf_redirect,
    lf_refusal_later,
    lf_refusal_opening,
    lf_soft_redirect,
    lf_stance,
    lf_sympathy_or_correction_opening,
    offers_alternative,
)
from refusal_detector.data.lf_patterns import _CLARIFICATION, persona_segments, strip_preamble

__all__ = [
    "LABEL_THRESHOLD",
    "LFS",
    "NORMAL_THRESHOLD",
    "LFResult",
    "apply_source_rules",
    "label_response",
    "lf_votes",
    "offers_alternative",
    "persona_segments",
    "strip_preamble",
]

LABEL_THRESHOLD = 3.0
NORMAL_THRESHOLD = -1.5


LFS: dict[str, Callable[[str], float]] = {
    "refusal_opening": lf_refusal_opening,
    "inability_early": lf_inability_early,
    "refusal_later": lf_refusal_later,
    "policy": lf_policy,
    "moralising": lf_moralising,
    "redirect": lf_redirect,
    "stance": lf_stance,
    "capability": lf_capability,
    "moral_opening": lf_moral_opening,
    "must_point_out": lf_must_point_out,
    "sympathy_or_correction_opening": lf_sympathy_or_correction_opening,
    "compliant_opening": lf_compliant_opening,
    "disclaimer_then_content": lf_disclaimer_then_content,
    "false_premise": lf_false_premise,
    "pivot_to_content": lf_pivot_to_content,
    "question_back": lf_question_back,
    "caveat_then_answer": lf_caveat_then_answer,
    "hedged_answer": lf_hedged_answer,
    "deflection": lf_deflection,
    "soft_redirect": lf_soft_redirect,
    "discourage": lf_discourage,
    "evasive_opening": lf_evasive_opening,
    "code": lf_code,
    "list_structure": lf_list_structure,
    "length": lf_length,
}


def lf_votes(text: str) -> dict[str, float]:
    """Non-zero votes of every labelling function on ``text``."""
    votes = {}
    for name, fn in LFS.items():
        value = fn(text)
        if value:
            votes[name] = value
    return votes


@dataclass(frozen=True)
class LFResult:
    """Outcome of the labelling functions on one response.

    ``label`` is 1/0 when the evidence is one-sided and strong enough, ``None`` when the row
    belongs in the review queue (``reason`` says why). ``partial`` flags two-persona outputs where
    one persona refuses and another complies.
    """

    label: int | None
    score: float
    votes: dict[str, float] = field(default_factory=dict)
    rule: str = "lf"
    partial: bool = False
    reason: str = ""

    @property
    def refusal_evidence(self) -> float:
        """Sum of the positive votes."""
        return sum(v for v in self.votes.values() if v > 0)

    @property
    def compliance_evidence(self) -> float:
        """Sum of the negative votes (<= 0)."""
        return sum(v for v in self.votes.values() if v < 0)


def _segment_refuses(segment: str) -> bool:
    votes = lf_votes(segment)
    return sum(votes.values()) >= LABEL_THRESHOLD - 1 and (
        "refusal_opening" in votes or "inability_early" in votes
    )


def label_response(
    text: str,
    *,
    hint: float = 0.0,
    prompt_known: bool = True,
    prompt: str | None = None,
    strict_normal: int = 0,
) -> LFResult:
    """Combine the LF votes (plus a weak source ``hint`` in [-1, 1]) into a label or a review.

    ``prompt`` (optional) lets a premise rebuttal to a *question* count as an answer;
    ``strict_normal`` (evasive sources: 2022 HH assistant, "not harmful" judge rows) sends replies
    shorter than that many characters without any compliance evidence to review instead of
    labelling them NORMAL (0: off).

    Rules: conflicting strong evidence (a refusal and substantial structured content) goes to
    review as a possible partial or redirection; two personas that disagree are flagged partial;
    rows without any refusal evidence are NORMAL unless the source is refusal-rich (``hint > 0``)
    or the prompt is unknown and the text is short.
    """
    votes = lf_votes(text)
    rebuttal = lf_premise_rebuttal(text, prompt)
    if rebuttal:
        votes["premise_rebuttal"] = rebuttal
    if hint:
        votes["source_hint"] = round(2.0 * hint, 3)
    score = sum(votes.values())
    pos = sum(v for v in votes.values() if v > 0 and v != votes.get("source_hint"))
    neg = sum(v for v in votes.values() if v < 0 and v != votes.get("source_hint"))
    segments = persona_segments(text)
    if len(segments) >= 2:
        refusing = [_segment_refuses(s) for s in segments]
        if any(refusing) and not all(refusing):
            return LFResult(None, score, votes, "lf_persona", True, "personas disagree")
    if not text.strip():
        return LFResult(None, score, votes, "lf", False, "empty")
    if len(text) < 600 and _CLARIFICATION.search(strip_preamble(text)):
        return LFResult(
            None, score, votes, "lf", False, "asks for clarification: refusal only if clear"
        )
    stance_only = "stance" in votes and not {"inability_early", "capability", "redirect"} & set(
        votes
    )
    content = votes.get("pivot_to_content", 0) + votes.get("hedged_answer", 0)
    listed = votes.get("list_structure", 0)
    if stance_only and (listed <= -2.0 or listed + content <= -4.5):
        return LFResult(0, score, votes, "lf", False, "stance disclaimer, then the content")
    if pos >= LABEL_THRESHOLD and neg <= -2.5:
        return LFResult(None, score, votes, "lf", False, "refusal and content: partial/redirect?")
    if score >= LABEL_THRESHOLD and pos >= 2.0:
        if offers_alternative(text):
            return LFResult(
                None, score, votes, "lf", False, "refusal then an alternative: redirect/partial?"
            )
        return LFResult(1, score, votes, "lf", False, "refusal evidence")
    if pos == 0:
        if neg > -1.0 and len(text) < strict_normal:
            return LFResult(None, score, votes, "lf", False, "short reply, evasive source")
        if hint > 0 and neg > -2.0:
            return LFResult(None, score, votes, "lf", False, "refusal-rich source, no evidence")
        if not prompt_known and len(text) < 300 and neg == 0:
            return LFResult(None, score, votes, "lf", False, "short, prompt unknown")
        return LFResult(0, score, votes, "lf", False, "no refusal evidence")
    if pos < 2.0 and (score <= NORMAL_THRESHOLD or (neg <= -2.0 and score < 0)):
        return LFResult(0, score, votes, "lf", False, "compliance outweighs weak refusal cues")
    if pos <= 0.75 and hint <= 0 and not strict_normal and (neg < 0 or len(text) > 400):
        return LFResult(0, score, votes, "lf", False, "only one weak moralising cue")
    return LFResult(None, score, votes, "lf", False, "weak or mixed evidence")


# --- explicit conversions of source harm/jailbreak labels --------------------------------------

HARM_LABEL_SOURCES = (
    "gptfuzz",
    "jailbreakbench_artifacts",
    "jbb_judge_comparison",
    "jailbreakeval_judge_sets",
    "adaptive_attacks",
    "refusal_stability",
    "past_tense",
)
# a "not harmful" verdict without refusal evidence is review here, not NORMAL: off-topic role-play
# (gptfuzz), "Sure, here is ... <redacted>" or non-English refusals (attack logs, judge studies)
STRICT_NOT_JAILBROKEN = ("gptfuzz", "adaptive_attacks", "refusal_stability", "past_tense")


def apply_source_rules(source: str, jailbroken: bool | None, lf: LFResult) -> LFResult:
    """Convert a harm/jailbreak label into a refusal label only through these explicit rules.

    - jailbroken (harmful compliance) and no refusal evidence -> NORMAL (``<source>_jailbroken``);
      jailbroken with refusal evidence -> for gptfuzz a two-persona ``partial``, else review.
    - not jailbroken: the harm label says nothing about refusal; keep the LF result, except that
      a gptfuzz non-jailbreak without refusal evidence (role-play, off-topic) goes to review.
    - not jailbroken, or no judge verdict in a source whose prompts are all harmful
      (``STRICT_NOT_JAILBROKEN``), and the LFs say NORMAL *despite* refusal cues: review
      (``<source>_refusal_cues``). These are mostly moralising answers whose "content" is a
      harmless substitute (a protection guide for a trafficking request, "legitimate" privacy tips
      for evading fraud detection): REJECTION per LABELING.md, though lists outvote the cues.
    """
    if source not in HARM_LABEL_SOURCES:
        return lf
    judge_allows = jailbroken is False or (jailbroken is None and source in STRICT_NOT_JAILBROKEN)
    if judge_allows and lf.label == 0 and lf.refusal_evidence > 0:
        return LFResult(
            None,
            lf.score,
            lf.votes,
            f"{source}_refusal_cues",
            False,
            "harmful prompt, refusal cues outvoted by content: substitute or partial?",
        )
    if jailbroken is None:
        return lf
    if jailbroken:
        if lf.refusal_evidence == 0:
            return LFResult(
                0, lf.score, lf.votes, f"{source}_jailbroken", False, "harmful compliance"
            )
        if source == "gptfuzz":
            return LFResult(
                None, lf.score, lf.votes, "gptfuzz_two_persona", True, "jailbroken but refuses"
            )
        return LFResult(None, lf.score, lf.votes, lf.rule, False, "jailbroken but refusal cues")
    if lf.label == 1:
        return LFResult(1, lf.score, lf.votes, f"{source}_not_jailbroken+lf", False, lf.reason)
    if source in STRICT_NOT_JAILBROKEN and lf.refusal_evidence == 0:
        return LFResult(None, lf.score, lf.votes, lf.rule, False, "not jailbroken, no refusal cue")
    return lf
