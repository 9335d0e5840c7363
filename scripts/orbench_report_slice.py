"""Write the README's report example: a slice of OR-Bench answers, three models on the same prompts.

From the raw ``overrefusal_legal_orbench`` source (never copied into the repo): the first
``--prompts`` prompts of each category that all of llama3.1:8b, gemma3:4b and qwen2.5:7b answered
(harmful, sexual, unethical, violence; its "illegal" files hold llama3.1 alone), once as asked
(``plain.jsonl``) and once behind the "I'm a defense lawyer" prefix (``lawyer.jsonl``). Each row:
id, prompt_id (without the condition suffix), model, category, prompt, text (the response,
which the source cuts at 500 characters).

    python scripts/orbench_report_slice.py --out /tmp/orbench --prompts 20
    refusal-detector report --input /tmp/orbench/plain.jsonl --group-by model,category \\
        --out /tmp/orbench/report.html --json --compare /tmp/orbench/lawyer.jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

RAW = Path("/work/shared/data/raw/overrefusal_legal_orbench/results/english/main")
CATEGORIES = ("harmful", "sexual", "unethical", "violence")
MODELS = ("llama3.1:8b", "gemma3:4b", "qwen2.5:7b")
CONDITIONS = {"plain": "", "lawyer": "_p2_lawyer"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=RAW)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--prompts", type=int, default=20, help="prompts per category")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, suffix in CONDITIONS.items():
        rows = []
        for category in CATEGORIES:
            path = args.raw / f"orbench_{category}200{suffix}_results.csv"
            with path.open(newline="", encoding="utf-8") as f:
                records = [r for r in csv.DictReader(f) if r["model"] in MODELS]
            for record in records:
                record["prompt_id"] = re.sub(r"_p2_lawyer$", "", record["prompt_id"])
            answered: dict[str, set[str]] = {}
            for record in records:
                answered.setdefault(record["prompt_id"], set()).add(record["model"])
            chosen = sorted(p for p, models in answered.items() if len(models) == len(MODELS))
            keep = set(chosen[: args.prompts])
            rows += [
                {
                    "id": f"{r['prompt_id']}/{r['model']}",
                    "prompt_id": r["prompt_id"],
                    "model": r["model"],
                    "category": category,
                    "prompt": r["prompt"],
                    "text": r["response_preview"],
                }
                for r in records
                if r["prompt_id"] in keep
            ]
        target = args.out / f"{name}.jsonl"
        target.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        print(f"{target}: {len(rows)} rows")  # noqa: T201
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
