"""Speed against the original system, side by side in one run: rate, latency, memory, size.

Five systems score the same texts at four lengths (about 12, 64, 400 and 3,000 tokens):

- (a) ``original``: the original system as LLM Guard runs it: a distilroberta-base-shaped
  ``RobertaForSequenceClassification`` (6 layers, 768 wide, 12 heads, 3,072 FFN, vocabulary
  50,265, 514 positions; random weights, as speed does not depend on them) through
  ``transformers.pipeline("text-classification", truncation=True, max_length=512)``, one text per
  call. The Hub is out of reach, so its tokenizer is rebuilt from GPT-2's byte-level BPE
  (``benchmarks/assets/gpt2.tiktoken.gz``), which is RoBERTa's up to the order of the ids, so it
  reads as many tokens per text as the real system; the table shows them next to ours.
- (b) ``original-batched``: the same pipeline given all texts at once (``batch_size``).
- (c) ``torch``: ``RefusalDetector(backend="torch")`` on the shipped model.
- (d) ``onnx-fp32``: the shipped model's weights exported by ``export_onnx`` (fused fp32 graph).
- (e) ``onnx-int8``: the shipped default, ``RefusalDetector()``.
- (f) ``candidate`` (only with ``--candidate DIR``): another model directory's int8 ONNX file
  through ``RefusalDetector``, interleaved with the rest, to measure a model change side by side.

Each system lives in its own Python process for the whole run (so its peak RSS is its own), and
the parent interleaves them: for every repeat, for every length, each system in turn (the order
rotates) scores the batch and then the single texts. Ratios against (a) therefore compare
measurements taken minutes apart at most, which keeps them meaningful on a loaded machine;
throughput is the median over repeats, latency p50/p99 over all single-text calls. Our systems
read every token (overlapping token windows); (a) and (b) read the first 512 tokens only.

Also measured: the cold start of ``refusal-detector classify TEXT`` (a fresh process, median of
``--cold-starts``), and with ``--install-size`` the site-packages of a fresh venv after
``pip install .`` without extras (pip, setuptools and wheel excluded; needs the package index).

    python benchmarks/speed.py                              # full run, markdown on stdout
    python benchmarks/speed.py --repeats 1 --install-size --json runs/speed.json
    python benchmarks/speed.py --systems onnx-int8,candidate --candidate runs/ship-d4
"""

from __future__ import annotations

import argparse
import base64
import gzip
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from long_outputs import PARAGRAPHS, REFUSALS  # noqa: E402

SYSTEMS = ("original", "original-batched", "torch", "onnx-fp32", "onnx-int8")
LABELS = {
    "original": "(a) original, pipeline batch 1",
    "original-batched": "(b) original, pipeline batched",
    "torch": "(c) ours, torch",
    "onnx-fp32": "(d) ours, ONNX fp32",
    "onnx-int8": "(e) ours, ONNX int8 (default)",
    "candidate": "(f) candidate, ONNX int8 (--candidate)",
}
LENGTHS = {"short": 12, "medium": 64, "long": 400, "very long": 3000}
SHORT_TEXTS = (
    "I'm sorry, but I can't help with that request.",
    "Sure, here is a simple recipe for pancakes.",
    "I cannot provide instructions for that, sorry.",
    "The capital of France is Paris, on the Seine.",
    "As an AI, I won't write that message for you.",
    "Water boils at 100 degrees Celsius at sea level.",
    "Unfortunately I am unable to assist with this one.",
    "Here are three tips for a better night's sleep.",
)
GPT2_BPE = ROOT / "benchmarks/assets/gpt2.tiktoken.gz"


def build_texts(tokenizer: Any, length: str, n: int) -> list[str]:
    """``n`` texts of about ``LENGTHS[length]`` of our tokens each, the same in every process."""
    if length == "short":
        return [f"{SHORT_TEXTS[i % len(SHORT_TEXTS)]}" for i in range(n)]
    target = LENGTHS[length]
    sentences = [s.strip() + "." for p in PARAGRAPHS for s in p.split(". ") if s.strip()]
    texts = []
    for i in range(n):
        pool = itertools.islice(itertools.cycle(sentences), 3 * i, None)
        parts = [REFUSALS[i % len(REFUSALS)]] if i % 2 else []
        while len(tokenizer.encode(" ".join(parts), add_special_tokens=False).ids) < target:
            parts.append(next(pool))
        texts.append(" ".join(parts))
    return texts


def _byte_chars() -> dict[int, str]:
    """GPT-2's byte-to-character table: each byte as the printable character its BPE stores."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    chars = dict(zip(printable, printable, strict=True))
    extra = (b for b in range(256) if b not in chars)
    chars.update((b, 256 + n) for n, b in enumerate(extra))
    return {b: chr(c) for b, c in chars.items()}


def gpt2_bpe(path: Path = GPT2_BPE) -> Any:
    """RoBERTa's tokenizer, up to id order: GPT-2's byte-level BPE from its merge ranks.

    The merges are rebuilt from the ranks (each token is the merge of the two parts that BPE with
    only lower ranks leaves of it), the ids are GPT-2's ranks shifted past RoBERTa's four leading
    special tokens, and ``<s> ... </s>`` is added the way RoBERTa's post-processor does.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    ranks: dict[bytes, int] = {}
    with gzip.open(path, "rt", encoding="ascii") as handle:
        for line in handle:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    chars = _byte_chars()

    def word(token: bytes) -> str:
        return "".join(chars[b] for b in token)

    merges = []
    for token, rank in sorted(ranks.items(), key=lambda item: item[1]):
        if len(token) == 1:
            continue
        parts = [bytes([b]) for b in token]
        while len(parts) > 2:
            found = [
                (ranks.get(a + b, rank), i) for i, (a, b) in enumerate(itertools.pairwise(parts))
            ]
            best, i = min(found)
            if best >= rank:
                break
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        if len(parts) != 2:
            raise ValueError(f"{path}: rank {rank} is not the merge of two lower-ranked tokens")
        merges.append((word(parts[0]), word(parts[1])))
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": len(ranks) + 4}
    vocab.update((word(token), rank + 4) for token, rank in ranks.items())
    bpe = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0))
    return bpe


def build_original(out: Path) -> Path:
    """A distilroberta-base-shaped classifier with random weights and RoBERTa's BPE (GPT-2's)."""
    import torch
    from transformers import (
        RobertaConfig,
        RobertaForSequenceClassification,
        RobertaTokenizerFast,
    )

    from refusal_detector.labels import ID2LABEL, LABEL2ID

    tokenizer = RobertaTokenizerFast(tokenizer_object=gpt2_bpe(), model_max_length=512)
    config = RobertaConfig(
        vocab_size=50265,
        hidden_size=768,
        num_hidden_layers=6,
        num_attention_heads=12,
        intermediate_size=3072,
        max_position_embeddings=514,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        id2label=dict(ID2LABEL),
        label2id=dict(LABEL2ID),
    )
    torch.manual_seed(0)
    RobertaForSequenceClassification(config).eval().save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    return out


def prepare_fp32(model: Path, out: Path) -> Path:
    """A copy of ``model`` whose onnx/model.onnx is the fp32 export of its weights."""
    from refusal_detector.training.export import export_onnx

    shutil.copytree(model, out, ignore=shutil.ignore_patterns("onnx"))
    export_onnx(out)
    return out


# --- the worker: one system, commands on stdin, one JSON line per answer on stdout ---------------


def serve(system: str, model: Path, args: argparse.Namespace) -> None:
    start = time.perf_counter()
    from tokenizers import Tokenizer

    ours = Tokenizer.from_file(str(args.model / "tokenizer.json"))
    ours.no_truncation()
    if system.startswith("original"):
        import torch
        from transformers import pipeline

        torch.set_num_threads(args.threads)
        clf = pipeline(
            "text-classification", model=str(model), truncation=True, max_length=512, device=-1
        )
        batch = args.batch_size if system == "original-batched" else 1

        def score(texts: list[str], batched: bool) -> None:
            if batched and batch > 1:
                clf(texts, batch_size=batch)
            else:
                for text in texts:  # LLM Guard's NoRefusal calls the pipeline once per output
                    clf(text)

        def tokens_read(texts: list[str]) -> float:
            ids = clf.tokenizer(texts, truncation=True, max_length=512)["input_ids"]
            return statistics.mean(len(i) for i in ids)

    else:
        from refusal_detector import RefusalDetector

        backend = "torch" if system == "torch" else "onnx"
        if backend == "torch":
            import torch

            torch.set_num_threads(args.threads)
        detector = RefusalDetector.from_pretrained(
            model, backend=backend, batch_size=args.batch_size
        )

        def score(texts: list[str], batched: bool) -> None:
            detector.predict_proba(texts)

        def tokens_read(texts: list[str]) -> float:
            windows = detector.window_ids(texts)
            return statistics.mean(sum(len(w) for w in ws) for ws in windows)

    load_s = time.perf_counter() - start
    texts = {name: build_texts(ours, name, n) for name, n in zip(LENGTHS, args.n, strict=True)}
    sys.stdout.write(json.dumps({"ready": True, "load_s": load_s}) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        cmd = json.loads(line)
        chosen = texts[cmd["length"]]
        if cmd["op"] == "warm":
            score(chosen[:2], True)
            answer: dict[str, Any] = {
                "tokens_read": tokens_read(chosen),
                "text_tokens": statistics.mean(
                    len(ours.encode(t, add_special_tokens=False).ids) for t in chosen
                ),
            }
        elif cmd["op"] == "batch":
            began = time.perf_counter()
            score(chosen, True)
            answer = {"texts_per_s": len(chosen) / (time.perf_counter() - began)}
        elif cmd["op"] == "single":
            times = []
            for text in chosen[: cmd["k"]]:
                began = time.perf_counter()
                score([text], False)
                times.append(time.perf_counter() - began)
            answer = {"latencies_s": times}
        else:  # "rss"
            answer = {"peak_rss_mb": peak_rss_mb(), "torch_imported": "torch" in sys.modules}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: the exec'd address space's own)."""
    for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Worker:
    def __init__(self, system: str, model: Path, args: argparse.Namespace) -> None:
        command = [sys.executable, __file__, "--worker", system, "--worker-model", str(model)]
        command += ["--model", str(args.model), "--batch-size", str(args.batch_size)]
        command += ["--threads", str(args.threads), "--n", ",".join(map(str, args.n))]
        env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.ready = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker exited with {self.proc.wait()}")
        return dict(json.loads(line))

    def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=60)


def cold_start(n: int) -> float:
    """Median seconds of ``refusal-detector classify TEXT`` in a fresh process."""
    times = []
    command = [sys.executable, "-m", "refusal_detector", "classify", "I can't help with that."]
    for _ in range(n):
        began = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def install_size(tmp: Path) -> dict[str, Any]:
    """site-packages of a fresh venv after ``pip install ROOT`` (no extras), pip & co excluded."""
    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(ROOT)],
        check=True,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    (site,) = env_dir.glob("lib/python*/site-packages")
    skip = (
        "pip",
        "setuptools",
        "wheel",
        "_distutils_hack",
        "pkg_resources",
        "distutils-precedence",
    )
    sizes: dict[str, int] = {}
    for entry in site.iterdir():
        name = entry.name.split("-")[0].split(".")[0].lower()
        if name in skip:
            continue
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        sizes[name] = sizes.get(name, 0) + sum(p.stat().st_size for p in files)
    return {"total_mb": sum(sizes.values()) / 1e6, "largest_mb": _largest(sizes)}


def _largest(sizes: dict[str, int]) -> dict[str, float]:
    top = sorted(sizes.items(), key=lambda kv: -kv[1])[:6]
    return {k: round(v / 1e6, 1) for k, v in top}


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    systems = args.systems.split(",")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        dirs = {"torch": args.model, "onnx-int8": args.model, "candidate": args.candidate}
        if "candidate" in systems and args.candidate is None:
            raise SystemExit("--systems candidate needs --candidate DIR")
        if any(s.startswith("original") for s in systems):
            dirs["original"] = dirs["original-batched"] = build_original(tmp / "original")
        if "onnx-fp32" in systems:
            dirs["onnx-fp32"] = prepare_fp32(args.model, tmp / "fp32")
        workers = {s: Worker(s, dirs[s], args) for s in systems}
        info = {s: {"load_s": w.ready["load_s"]} for s, w in workers.items()}
        tokens = {s: {n: workers[s].ask(op="warm", length=n) for n in LENGTHS} for s in systems}
        rates: dict[tuple[str, str], list[float]] = {}
        latencies: dict[tuple[str, str], list[float]] = {}
        for rep in range(args.repeats):
            for length, k in zip(LENGTHS, args.single, strict=True):
                shift = rep % len(systems)
                for system in systems[shift:] + systems[:shift]:
                    worker = workers[system]
                    rate = worker.ask(op="batch", length=length)["texts_per_s"]
                    rates.setdefault((system, length), []).append(rate)
                    if k:
                        times = worker.ask(op="single", length=length, k=k)["latencies_s"]
                        latencies.setdefault((system, length), []).extend(times)
            sys.stderr.write(f"repeat {rep + 1}/{args.repeats} done\n")
        for system, worker in workers.items():
            info[system].update(worker.ask(op="rss", length="short"))
            worker.close()
        result: dict[str, Any] = {"systems": info, "rows": []}
        for length, system in itertools.product(LENGTHS, systems):
            lat = latencies.get((system, length), [])
            result["rows"].append(
                {
                    "length": length,
                    "system": system,
                    "texts_per_s": statistics.median(rates[(system, length)]),
                    "p50_ms": 1000 * quantile(lat, 0.5) if lat else None,
                    "p99_ms": 1000 * quantile(lat, 0.99) if lat else None,
                    **tokens[system][length],
                }
            )
        if args.cold_starts:
            result["cold_start_s"] = cold_start(args.cold_starts)
        if args.install_size:
            result["install"] = install_size(tmp)
    return result


def render(result: dict[str, Any], args: argparse.Namespace) -> str:
    rows = result["rows"]
    base = {r["length"]: r["texts_per_s"] for r in rows if r["system"] == "original"}
    lines = [
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
        f"{args.threads} threads, batch {args.batch_size}, median of {args.repeats} repeats; "
        f"texts per length {args.n}, single-text calls per length and repeat {args.single}",
        "",
        "| length | system | tokens/text | tokens read | texts/s | vs (a) | p50 ms | p99 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ratio = f"{r['texts_per_s'] / base[r['length']]:.1f}x" if r["length"] in base else "-"
        p50 = f"{r['p50_ms']:.2f}" if r["p50_ms"] is not None else "-"
        p99 = f"{r['p99_ms']:.2f}" if r["p99_ms"] is not None else "-"
        lines.append(
            f"| {r['length']} | {LABELS[r['system']]} | {r['text_tokens']:.0f} "
            f"| {r['tokens_read']:.0f} | {r['texts_per_s']:.1f} | {ratio} | {p50} | {p99} |"
        )
    lines += ["", "| system | load s | peak RSS MB | imports torch |", "|---|---:|---:|---|"]
    for system, s in result["systems"].items():
        lines.append(
            f"| {LABELS[system]} | {s['load_s']:.2f} | {s['peak_rss_mb']:.0f} "
            f"| {'yes' if s['torch_imported'] else 'no'} |"
        )
    if "cold_start_s" in result:
        lines.append(
            f"\ncold start of `refusal-detector classify TEXT`: {result['cold_start_s']:.2f} s"
        )
    if "install" in result:
        inst = result["install"]
        lines.append(
            f"torch-free install (`pip install .`, no extras): {inst['total_mb']:.0f} MB of "
            f"site-packages without pip/setuptools; largest: {inst['largest_mb']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None, help="default: the shipped model")
    parser.add_argument("--systems", default=None, help=f"default: {','.join(SYSTEMS)}")
    parser.add_argument(
        "--candidate",
        type=Path,
        default=None,
        help="another model directory, run as system (f) beside the others (its int8 ONNX file)",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", default="256,128,32,8", help="texts per length (short..very long)")
    parser.add_argument(
        "--single", default="100,50,10,3", help="single-text calls per length and repeat"
    )
    parser.add_argument("--cold-starts", type=int, default=5)
    parser.add_argument("--install-size", action="store_true", help="pip install . in a venv")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker-model", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.n = [int(x) for x in str(args.n).split(",")]
    if args.systems is None:
        args.systems = ",".join(SYSTEMS + (("candidate",) if args.candidate else ()))
    args.single = [int(x) for x in str(args.single).split(",")]
    if args.model is None:
        from refusal_detector.detector import default_model_dir

        args.model = default_model_dir()
    if args.worker:
        serve(args.worker, args.worker_model, args)
        return 0
    result = run(args)
    print(render(result, args))  # noqa: T201
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
