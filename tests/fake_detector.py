"""A RefusalDetector over a fake backend whose logits key on one token, for pure-logic tests.

No torch, no transformers, no model file: a word-level `tokenizers` tokenizer and a backend that
says REJECTION exactly when a window contains the trigger word ("sorry" by default). With a small
``max_length`` a few hundred words already span many windows, so windowing, spans, the three-way
verdict and the scanner can be tested on texts whose right answer is known by construction.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
from tokenizers.models import WordLevel

if TYPE_CHECKING:
    from refusal_detector.detector import RefusalDetector

SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]")
_VOCABULARY = (
    "sorry i can't cannot help with that the a and of to is here are steps recipe flour eggs milk "
    "sugar mix bake minutes step one two three python code function return value list print "
    "history war king city river weather sun rain music song poem story book write read"
)
WORDS = tuple(_VOCABULARY.split())
PUNCT = tuple(".,!?'\":;-()`#*|>")


def fake_tokenizer() -> Tokenizer:
    """Lower-casing word-level tokenizer with BERT-style [CLS] ... [SEP]."""
    vocab = {w: i for i, w in enumerate(dict.fromkeys([*SPECIALS, *WORDS, *PUNCT]))}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    tok.post_processor = processors.BertProcessing(
        ("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"])
    )
    return tok


class KeywordBackend:
    """Logits (NORMAL, REJECTION): (0, margin * k) if a row holds the trigger token k > 0 times,
    else (0, -margin).

    ``calls`` records the batch sizes it was called with, so tests can check batching.
    """

    input_names = ("input_ids", "attention_mask")

    def __init__(self, trigger_id: int, margin: float = 4.0) -> None:
        self.trigger_id = trigger_id
        self.margin = margin
        self.calls: list[int] = []

    def logits(self, batch: Mapping[str, npt.NDArray[np.int64]]) -> npt.NDArray[np.float32]:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        self.calls.append(len(ids))
        hits = ((ids == self.trigger_id) & (mask == 1)).sum(axis=1)
        out = np.zeros((len(ids), 2), dtype=np.float32)
        out[:, 1] = np.where(hits > 0, self.margin * hits, -self.margin)
        return out


def fake_detector(
    *, max_length: int = 16, batch_size: int = 4, trigger: str = "sorry", **options: object
) -> RefusalDetector:
    """A RefusalDetector whose P(REJECTION) is sigmoid(4) ~ 0.982 when a window holds ``trigger``,
    else ~ 0.018. ``options`` go to the constructor (window_stride, reduction)."""
    from refusal_detector.detector import RefusalDetector

    tokenizer = fake_tokenizer()
    backend = KeywordBackend(tokenizer.token_to_id(trigger))
    return RefusalDetector(
        model_dir=Path("fake-model"),
        backend=backend,
        backend_name="fake",
        tokenizer=tokenizer,
        max_length=max_length,
        pad_id=0,
        batch_size=batch_size,
        **options,  # type: ignore[arg-type]
    )
