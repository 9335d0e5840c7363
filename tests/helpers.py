"""Tiny in-test models, importable by every test module (``from helpers import build_tiny_model``).

A 2-layer, 32-wide random BertForSequenceClassification with a word-level tokenizer: it builds and
exports to ONNX in well under a second, so tests never need the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

_REFUSAL_TEXT = (
    "sorry i can't cannot won't will not unable to assist help with that request comply provide "
    "as an ai language model apologize but am not able allowed against policy guidelines harmful "
    "unethical illegal inappropriate refuse decline instead suggest recommend please understand "
    "my purpose is safe respectful"
)
_COMMON_TEXT = (
    "the a an and or of in on at for from by about into over after before under between through "
    "is are was were be been being have has had do does did can could should would may might must "
    "here there this these those it its they them their you your we our he she his her me my "
    "sure certainly of course yes no okay great good bad new old first last long short big small "
    "recipe pancakes flour eggs milk sugar butter salt water bake fry cook mix stir heat minutes "
    "python code function class return value list dict string number loop print import file data "
    "step steps one two three four five six seven eight nine ten answer question example result "
    "history war king queen city country river mountain sea world people time year day night "
    "weather sun rain snow wind cold hot warm summer winter spring autumn tree flower garden "
    "music song poem story book write read letter word sentence paragraph essay summary "
    "math equation solve add subtract multiply divide sum total percent average formula "
    "health doctor medicine exercise sleep food diet energy body heart brain blood "
    "computer phone internet email website server network password account user login "
    "money bank price cost pay buy sell market business company job work office team "
    "car road train plane travel trip hotel ticket map city street house home room door "
    "love friend family mother father child children school teacher student class lesson "
    "explain describe list compare show tell give make use find try need want like know think "
    "how what why when where who which because so if then also just only very more most "
    "following below above next simple easy quick best way ways idea ideas tips plan "
    "hello hi thanks thank welcome glad happy fun interesting important useful possible"
)
REFUSAL_WORDS = _REFUSAL_TEXT.split()
COMMON_WORDS = _COMMON_TEXT.split()
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def build_tiny_tokenizer(max_length: int = 128) -> PreTrainedTokenizerFast:
    """A lowercase WordLevel tokenizer (split on whitespace, punctuation) as a transformers one."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    words = list(dict.fromkeys([*SPECIAL_TOKENS, *REFUSAL_WORDS, *COMMON_WORDS, *".,!?'\":;-()"]))
    vocab = {word: i for i, word in enumerate(words)}
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()]
    )
    tok.post_processor = processors.BertProcessing(
        ("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"])
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=max_length,
    )


def build_tiny_model(
    path: Path, seed: int = 0, *, onnx: bool = True, initializer_range: float = 0.5
) -> Path:
    """Save a random tiny BERT classifier (labels NORMAL/REJECTION) to ``path`` and return ``path``.

    With ``onnx=True`` it is also exported to ``path/onnx`` by ``export_onnx``. The default wide
    ``initializer_range`` spreads scores for parity tests; 0.02 (BERT's own) gives a base that
    trains in a few dozen steps.
    """
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    from refusal_detector.labels import ID2LABEL, LABEL2ID

    tokenizer = build_tiny_tokenizer()
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=2,
        id2label=dict(ID2LABEL),
        label2id=dict(LABEL2ID),
        pad_token_id=tokenizer.pad_token_id,
        # BERT's 0.02 gives near-constant scores; a wide init spreads them over (0, 1), so
        # label flips between backends or code paths show up in tests.
        initializer_range=initializer_range,
    )
    model = BertForSequenceClassification(config).eval()
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path, safe_serialization=True)
    tokenizer.save_pretrained(path)
    if onnx:
        from refusal_detector.training.export import export_onnx

        export_onnx(path)
    return path
