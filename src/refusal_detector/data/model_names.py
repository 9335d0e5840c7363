"""Normalised LLM names and families, so that per-family splits and caps see one name per model."""

from __future__ import annotations

import re

__all__ = ["UNKNOWN", "family_of", "normalise_model"]

UNKNOWN = "unknown"

# raw spelling (lowercased, provider prefix removed) -> canonical name; anything else is lowercased.
_CANONICAL: dict[str, str] = {
    "gpt35": "gpt-3.5-turbo",
    "gpt-3.5-turbo:20230327": "gpt-3.5-turbo-0301",
    "gpt4_0314": "gpt-4-0314",
    "gpt4_0613": "gpt-4-0613",
    "gpt4_1106_preview": "gpt-4-1106-preview",
    "text_davinci_003": "text-davinci-003",
    "llama-13b:v1": "llama-13b",
    "alpaca-13b:v1": "alpaca-13b",
    "bard:20230327": "bard",
    "vicuna-13b:20230322-clean-lang": "vicuna-13b-v0",
    "vicuna-13b:20230322-new-hp-fp16": "vicuna-13b-v0-new-hp",
    "vicuna-7b:20230322-fp16": "vicuna-7b-v0",
    "llama-2-chat7b": "llama-2-7b-chat",
    "llama-2-chat13b": "llama-2-13b-chat",
    "llama-2-7b-chat-hf": "llama-2-7b-chat",
    "llama-2-13b-chat-hf": "llama-2-13b-chat",
    "llama-2-70b-chat-hf": "llama-2-70b-chat",
    "llama2-7b-chat-hf": "llama-2-7b-chat",
    "meta-llama-3-8b-instruct": "llama-3-8b-instruct",
    "meta-llama-3-70b-instruct": "llama-3-70b-instruct",
    "meta-llama-3.1-405b-instruct-turbo": "llama-3.1-405b-instruct",
    "llama-instruct": "llama-3-8b-instruct",
    "llama3.1:8b": "llama-3.1-8b-instruct",
    "deepseek-llama-distill": "deepseek-r1-distill-llama-8b",
    "gemma3:4b": "gemma-3-4b-it",
    "gemma4:e4b": "gemma-4-e4b-it",
    "qwen2.5:7b": "qwen-2.5-7b-instruct",
    "qwen3:8b": "qwen-3-8b",
    "hf.co/bartowski/swiss-ai_apertus-8b-instruct-2509-gguf:q4_k_m": "apertus-8b-instruct-2509",
    "qwen-1_8b-chat": "qwen-1.8b-chat",
    "qwen1.5-72b-chat-greedy": "qwen1.5-72b-chat",
    "phi-3-mini-128k-instruct": "phi-3-mini-128k-instruct",
    "dolphin-llama2-7b": "dolphin-llama2-7b",
    "guanaco-13b-merged": "guanaco-13b",
    # past_tense / adaptive_attacks spellings; R2D2 is HarmBench's adversarially trained Zephyr-7B
    "r2d2": "zephyr-7b-r2d2",
    "phi3": "phi-3-mini-128k-instruct",
    "gemma2-9b": "gemma-2-9b-it",
    "llama3-8b": "llama-3-8b-instruct",
    "o1-mini-2024-09-12": "o1-mini",
    "o1-preview-2024-09-12": "o1-preview",
}

# first matching pattern wins; order matters (mixtral before mistral, dolphin before llama2 ...).
_FAMILIES: list[tuple[str, str]] = [
    (r"deepseek-r1-distill", "deepseek-r1-distill"),
    (r"deepseek", "deepseek"),
    (r"dolphin", "dolphin"),
    (r"guanaco", "guanaco"),
    (r"vicuna", "vicuna"),
    (r"alpaca", "alpaca"),
    (r"tulu", "tulu"),
    (r"zephyr", "zephyr"),
    (r"evol70k", "llama-2"),
    (r"llama-?3|llama3", "llama-3"),
    (r"llama-?2|llama2", "llama-2"),
    (r"^llama-\d+b$", "llama-1"),
    (r"mixtral", "mixtral"),
    (r"mistral", "mistral"),
    (r"gpt-3\.5|gpt35", "gpt-3.5"),
    (r"gpt-4o", "gpt-4o"),
    (r"gpt-4|gpt4", "gpt-4"),
    (r"^o\d", "openai-o"),
    (r"davinci", "gpt-3"),
    (r"claude", "claude"),
    (r"anthropic", "anthropic-2022"),
    (r"gemma", "gemma"),
    (r"gemini|bard", "gemini"),
    (r"qwen", "qwen"),
    (r"^yi-", "yi"),
    (r"phi-", "phi"),
    (r"reka", "reka"),
    (r"falcon", "falcon"),
    (r"apertus", "apertus"),
    (r"chatglm", "chatglm"),
    (r"baichuan", "baichuan"),
    (r"cohere|command", "cohere"),
    (r"dbrx", "dbrx"),
    (r"oasst|pythia", "oasst"),
]


def normalise_model(raw: str) -> str:
    """Canonical lower-case model name: provider prefix dropped, known spellings unified."""
    name = raw.strip().lower()
    if not name:
        return UNKNOWN
    if name in _CANONICAL:
        return _CANONICAL[name]
    if "/" in name and not name.startswith("hf.co/"):
        name = name.rsplit("/", 1)[1]
    return _CANONICAL.get(name, name)


def family_of(model: str) -> str:
    """Model family of a normalised name (``llama-2``, ``gpt-4``, ...), ``unknown`` if unmatched."""
    for pattern, family in _FAMILIES:
        if re.search(pattern, model):
            return family
    return UNKNOWN
