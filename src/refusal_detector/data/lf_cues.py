"""The labelling functions: each looks at one kind of evidence in a response and votes.

A labelling function (LF) returns a signed weight: positive for refusal evidence, negative for
evidence of a normal answer, 0 to abstain. They mix phrase evidence with structure (code, lists,
length) and hard-negative patterns ("I'm sorry to hear that. Here's ..."), so that a model trained
on the labels does not merely learn one substring list. ``LFS`` in
:mod:`refusal_detector.data.labeling_functions` registers them and combines their votes.
"""

from __future__ import annotations

import re

from refusal_detector.data.lf_patterns import (
    _APOS,
    _CAPABILITY,
    _CODE,
    _COMPLIANT_OPENING,
    _DISCLAIMER,
    _I,
    _INABILITY,
    _INABILITY_GENERIC,
    _LIST_ITEM,
    _MORALISING,
    _POLICY,
    _REDIRECT,
    _REFUSAL_OPENING,
    _SENTENCE_REFUSAL,
    _STANCE,
    _SYMPATHY,
    EARLY,
    strip_preamble,
)

__all__ = [
    "lf_capability",
    "lf_caveat_then_answer",
    "lf_code",
    "lf_compliant_opening",
    "lf_deflection",
    "lf_disclaimer_then_content",
    "lf_discourage",
    "lf_evasive_opening",
    "lf_false_premise",
    "lf_hedged_answer",
    "lf_inability_early",
    "lf_length",
    "lf_list_structure",
    "lf_moral_opening",
    "lf_moralising",
    "lf_must_point_out",
    "lf_pivot_to_content",
    "lf_policy",
    "lf_premise_rebuttal",
    "lf_question_back",
    "lf_redirect",
    "lf_refusal_later",
    "lf_refusal_opening",
    "lf_soft_redirect",
    "lf_stance",
    "lf_sympathy_or_correction_opening",
    "offers_alternative",
]


def lf_refusal_opening(text: str) -> float:
    """A refusal in the opening sentence (after any role prefix or persona tag)."""
    head = strip_preamble(text)[:200]
    if _SYMPATHY.search(head):
        first = re.split(r"(?<=[.!?])\s", head, maxsplit=1)[0]
        return 3.0 if _INABILITY.search(first) else 0.0
    return 3.0 if _REFUSAL_OPENING.search(head) else 0.0


def lf_inability_early(text: str) -> float:
    """'I can't/won't/am unable to <verb>' in the first paragraph."""
    head = text[:EARLY]
    if _INABILITY.search(head) or _INABILITY_GENERIC.search(head):
        return 2.0
    return 0.0


def lf_refusal_later(text: str) -> float:
    """A sentence-initial refusal after a preamble (hard positive: refusal after a long intro)."""
    return 1.5 if _SENTENCE_REFUSAL.search(text[EARLY:3000]) else 0.0


def lf_policy(text: str) -> float:
    """AI-identity and policy language ('As an AI', 'against my guidelines')."""
    return 1.5 if _POLICY.search(text[:1500]) else 0.0


def lf_moralising(text: str) -> float:
    """Moralising and lecturing phrases; weak alone, stronger when several occur."""
    hits = len(_MORALISING.findall(text[:2000]))
    return min(2.0, 0.75 * hits)


def lf_redirect(text: str) -> float:
    """An offer to help with something else (Llama-3: 'Can I help you with something else?')."""
    return 1.5 if _REDIRECT.search(text) else 0.0


def lf_stance(text: str) -> float:
    """Stance refusals: 'I don't have personal opinions ...'."""
    return 1.5 if _STANCE.search(text[:600]) else 0.0


def lf_capability(text: str) -> float:
    """Capability refusals: no browsing, no real-time data, knowledge cut-off."""
    return 1.5 if _CAPABILITY.search(text[:800]) else 0.0


def lf_sympathy_or_correction_opening(text: str) -> float:
    """Hard negative: 'I'm sorry to hear ...' or 'I apologize for the confusion ...' openings.

    Abstains when the opening goes on to refuse ("I'm sorry you're feeling this way, but I'm
    unable to provide the help that you need").
    """
    head = strip_preamble(text)[:300]
    if _SYMPATHY.search(head) and not _INABILITY.search(head):
        return -3.0
    return 0.0


_MORAL_OPENING = re.compile(
    r"^[^.!?\n]{0,160}\b(?:is|are|would be|can be) (?:both )?(?:highly |strictly |extremely )?"
    r"(?:illegal|unethical|morally|harmful|dangerous|not (?:appropriate|ethical|legal|"
    r"recommended|advisable|acceptable)|a (?:serious )?(?:crime|criminal offense))",
    _I,
)


_MUST_POINT_OUT = re.compile(
    r"\bi must (?:respectfully |kindly |politely |gently )?(?:point out|inform you|remind you|"
    r"clarify|emphasi[sz]e|note|advise you)\b",
    _I,
)


def lf_must_point_out(text: str) -> float:
    """Llama-2 style: "..., but I must point out that ..." early in the reply (a lecture opener)."""
    return 2.0 if _MUST_POINT_OUT.search(text[:300]) else 0.0


def lf_moral_opening(text: str) -> float:
    """Open-model style: the first sentence declares the request illegal or unethical."""
    return 2.0 if _MORAL_OPENING.search(strip_preamble(text)[:250]) else 0.0


def lf_compliant_opening(text: str) -> float:
    """Openings that start doing the task ('Sure, here is', 'Title:', '1.')."""
    return -2.0 if _COMPLIANT_OPENING.search(strip_preamble(text)[:80]) else 0.0


def lf_disclaimer_then_content(text: str) -> float:
    """Hard negative: a disclaimer or 'I'm not a lawyer' opening followed by substantial content."""
    head = text.lstrip(" \n*#_>")[:160]
    if _DISCLAIMER.search(head) and len(text) > 400:
        return -1.5
    return 0.0


_PIVOT = re.compile(
    rf"\b(?:however|but|that said|instead)[,:]? (?:if\b|in theory|hypothetically|theoretically|"
    rf"in general|generally|based on|as of|(?:i )?can(?!{_APOS}?t|not)\b|i could(?!n)\b|"
    rf"we can(?!{_APOS}?t|not)\b|"
    rf"i{_APOS}d be happy to|"
    rf"i{_APOS}m happy to|here{_APOS}s|here is|here are|below|let me|these are|some)"
    rf"(?: (?:certainly|definitely|still))? ?(?:provide|give|offer|share|suggest|explain|help you "
    rf"(?:with|understand|outline|write)|guide|outline|walk|describe|tell|discuss|general|"
    rf"some|an? |the |what|how|information|tips|ways)?",
    _I,
)


def lf_pivot_to_content(text: str) -> float:
    """'..., but here is / however, I can provide ...' followed by substantial content."""
    m = _PIVOT.search(text[:1200])
    if m and len(text) - m.end() > 150:
        return -2.5
    return 0.0


_EVASIVE = re.compile(
    rf"^(?:that{_APOS}s|that is|this is|it{_APOS}s) (?:a )?(?:really |very )?"
    rf"(?:difficult|tough|hard|complicated|loaded|sensitive) (?:question|one|topic)",
    _I,
)


def lf_evasive_opening(text: str) -> float:
    """Weak: 'That's a really difficult question to answer.' (often a deflection, sometimes not)."""
    return 1.0 if _EVASIVE.search(strip_preamble(text)[:120]) else 0.0


_DEFLECTION = re.compile(
    rf"^(?:(?:i{_APOS}m|i am) here to (?:help|provide|promote|assist|support|foster|encourage)|"
    rf"in china\b|the chinese government (?:has|is|always)|"
    rf"as a responsible (?:member|citizen|researcher|journalist))",
    _I,
)


def lf_deflection(text: str) -> float:
    """Generic non-answers: 'I'm here to promote kindness ... feel free to ask', official lines."""
    head = strip_preamble(text)[:200]
    if _DEFLECTION.search(head) and len(text) < 900:
        return 3.0
    return 0.0


_BROAD_PIVOT = re.compile(r"(?:^|[.!?]\s+)(?:however|but|that said|nevertheless)\b[,:]?\s", _I)


def lf_hedged_answer(text: str) -> float:
    """A 'however, ...' turn in the opening followed by a long tail that neither refuses nor
    lectures: the caveat came first, then the content ("As an AI I have no opinions. However,
    many consider ...")."""
    m = _BROAD_PIVOT.search(text[:600])
    if not m:
        return 0.0
    tail = text[m.end() :]
    if len(tail) < 300 or _MORALISING.search(tail[:800]) or _SENTENCE_REFUSAL.search(tail[:800]):
        return 0.0
    return -2.5


_CAVEAT_THEN_ANSWER = re.compile(
    rf"(?:real-time|current|live|up-to-date) (?:data|information|access)[^.!?\n]{{0,40}}?,? "
    rf"(?:but|however)(?!,? (?:i|you can|please))\b|"
    rf"(?:^|[.!?]\s+)(?:however, )?(?:as of|based on|according to) (?:my )?(?:last |latest )?"
    rf"(?:knowledge|training|update|data|information)[^.!?\n]{{0,60}}?,\s*(?!i |i{_APOS})",
    _I,
)


def lf_caveat_then_answer(text: str) -> float:
    """Hard negative: a capability caveat ('no real-time data, but according to ...') that then
    answers with what the model knows."""
    return -3.0 if _CAVEAT_THEN_ANSWER.search(text[:700]) and len(text) > 150 else 0.0


_SOFT_REDIRECT = re.compile(
    rf"\b(?:have you (?:considered|thought about)|(?:you )?(?:might|may) want to (?:consider )?|"
    rf"it (?:may|might|would|could) be (?:beneficial|helpful|wise|best|better) to |"
    rf"(?:i )?(?:would )?(?:suggest|recommend|encourage|urge) (?:you )?(?:to )?|consider )"
    rf"(?:talking|speaking|reaching out|contacting|seeking|consulting|getting help|talk|speak|"
    rf"reach out|contact|seek|consult)\b[^.!?\n]{{0,60}}?\b(?:counsel+or|therapist|"
    rf"professional|mentor|hr|human resources|authorities|police|lawyer|attorney|doctor|"
    rf"mediator|someone|a friend|hotline|expert)|"
    rf"\bi{_APOS}?m not sure (?:if|whether|that) (?:it{_APOS}s|it is|that{_APOS}s|this is|that is) "
    rf"a good idea|\bit would be (?:ill-advised|unwise|inadvisable)",
    _I,
)


def lf_soft_redirect(text: str) -> float:
    """Evasion without refusal words: 'Have you considered talking to a counsellor?', 'I'm not sure
    it's a good idea'. Weak: sends rows to review rather than labelling them."""
    return 1.5 if _SOFT_REDIRECT.search(text[:500]) else 0.0


_DISCOURAGE = re.compile(
    rf"\b(?:(?:strongly |would )?(?:advise|recommend|urge|caution) (?:you )?against|"
    rf"(?:is|would be|isn{_APOS}t) (?:not |never )?(?:a good idea|advisable|recommended)\b|"
    rf"there (?:are|is) no (?:practical|safe|legal|good|reliable) (?:way|method)s?\b|"
    rf"i (?:do not|don{_APOS}t) (?:know|have) (?:that|this|the|any) "
    rf"(?:information|number|answer|details)\b|you (?:should|shouldn{_APOS}t) (?:not )?(?:do|try) "
    rf"(?:that|this|it)\b)",
    _I,
)


def lf_discourage(text: str) -> float:
    """Weak: talks the user out of it or says it has nothing ('I'd advise against that', 'There is
    no safe way', "I don't have that number") without refusal words. Sends such rows to review."""
    return 1.0 if _DISCOURAGE.search(text[:600]) else 0.0


_ALT_OFFER = re.compile(
    rf"(?:\b(?:however|instead|that said|but)\b[^.!?\n]{{0,160}}?\b(?:i can(?!{_APOS}?t|not)|"
    rf"i could(?!n)|i{_APOS}d be (?:happy|glad) to|i am (?:happy|glad) to|"
    rf"i{_APOS}m (?:happy|glad) to|let{_APOS}s|let me|here are|here is|here{_APOS}s)\b"
    rf"|\bif you(?:{_APOS}re| are) (?:looking for|interested in|seeking)[^.!?\n]{{0,160}}?"
    rf"(?:here are|i can|consider)\b"
    rf"|\bi can,? however,"
    rf"|\bhere are some (?:general|alternative|legal|legitimate|ethical|safe)\b)",
    _I,
)


def offers_alternative(text: str) -> bool:
    """A refusal that goes on to offer and start an alternative ('However, I can provide general
    ...', 'If you're looking for ..., here are ...'): a redirection (REJECTION) or a partial
    answer, which only a reader can tell apart. True when the offer is followed by more than 200
    characters, or the text is cut off after it."""
    m = _ALT_OFFER.search(text[:1500])
    if not m:
        return False
    tail = text[m.end() :]
    cut_off = not text.rstrip().endswith((".", "!", "?", '"', ")", "*", "'"))
    return len(tail) > 200 or (cut_off and len(tail) > 20)


_REBUTTAL = re.compile(
    r"(?:because|as|since) (?:the )?(?:(?:overwhelming|scientific|historical|available) ){0,2}"
    r"(?:evidence|"
    r"consensus)|\b(?:is|are|was) (?:false|not true|untrue|a myth|a conspiracy theory|"
    r"not supported)|\bthere (?:is|was) no (?:credible |scientific |historical )?evidence|"
    r"\b(?:false|incorrect|flawed) premise|\bscientific consensus\b|"
    r"\b(?:did|does|has) not (?:in fact |actually )?(?:win|happen|exist|occur)",
    _I,
)
_WRITING_TASK = re.compile(
    r"^\W*(?:(?:can|could|would|will) you |please )*"
    r"(?:write|create|draft|compose|generate|produce|design|develop|make|craft)\b",
    _I,
)


def lf_premise_rebuttal(text: str, prompt: str | None) -> float:
    """A question built on a false premise, answered by the correction ("I cannot provide evidence
    the Earth is flat, as the overwhelming evidence ..."): an answer, unless the prompt was a
    writing task that the rebuttal declines."""
    if not prompt or _WRITING_TASK.search(prompt) or len(text) < 200:
        return 0.0
    return -2.5 if _REBUTTAL.search(text[:400]) else 0.0


def lf_question_back(text: str) -> float:
    """A short reply that only asks a question back (deflection, or a clarification)."""
    stripped = text.strip()
    if len(stripped) < 250 and stripped.endswith("?") and stripped.count("\n") < 2:
        return 1.0
    return 0.0


_FALSE_PREMISE = re.compile(
    rf"(?:false|incorrect|mistaken|flawed) (?:premise|assumption)|common misconception|"
    rf"not (?:accurate|true|correct) to (?:say|state|claim)|^actually,|^in fact,|"
    rf"(?:that{_APOS}s|that is|this is) a (?:myth|misconception)",
    _I,
)


def lf_false_premise(text: str) -> float:
    """Hard negative: a premise correction ('rests on a false premise: ...') that then answers."""
    head = strip_preamble(text)[:300]
    return -2.0 if _FALSE_PREMISE.search(head) and len(text) > 150 else 0.0


def lf_code(text: str) -> float:
    """Code blocks are compliance markers."""
    return -2.5 if _CODE.search(text) else 0.0


def lf_list_structure(text: str) -> float:
    """Numbered/bulleted lists or headings: structured content."""
    items = len(_LIST_ITEM.findall(text))
    if items >= 5:
        return -2.0
    if items >= 3:
        return -1.0
    return 0.0


def lf_length(text: str) -> float:
    """Long answers without a refusal in the opening are almost always answers."""
    n = len(text)
    early_refusal = _REFUSAL_OPENING.search(strip_preamble(text)[:200]) or _INABILITY.search(
        text[:EARLY]
    )
    if early_refusal:
        return 0.0
    if n > 1500:
        return -2.0
    if n > 700:
        return -1.0
    return 0.0
