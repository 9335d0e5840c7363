"""Load test: concurrent clients against ``refusal-detector serve``, beside offline batch speed.

One run measures both figures on the same machine, with the same model and texts:

1. offline: ``RefusalDetector.predict_proba`` in batches of ``--batch-size`` in this process, for
   ``--offline-seconds`` (texts/s), once before and once after the load test;
2. service: the real server (``python -m refusal_detector serve``, default settings plus
   ``--model``/``--batch-size``) on a free 127.0.0.1 port, and ``--clients`` keep-alive HTTP
   clients, each sending one text per ``POST /v1/classify`` (as a gateway does, one output per
   request) back to back, for ``--duration`` seconds or ``--max-requests`` requests, whichever
   comes first.

It prints a markdown table: requests, texts/s, latency p50/p95/p99, errors by kind, mean model
batch (from /metrics), and service/offline throughput. Loopback only: the clients connect to the
server this script starts and nothing else.

    python benchmarks/load.py                                  # shipped model, 64 clients, 60 s
    python benchmarks/load.py --clients 64 --duration 60 --json runs/load.json

The clients share the machine's CPUs with the server, as a gateway on the same host would; on a
busy shared machine compare the two throughputs of one run, not figures across runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ROOT / "src/refusal_detector/data/annotations/partial_eval.jsonl"


def short_texts() -> list[str]:
    with TEXTS.open(encoding="utf-8") as handle:
        return [json.loads(line)["text"] for line in handle if line.strip()]


def offline_throughput(
    model: str | None, batch_size: int, texts: list[str], seconds: float
) -> tuple[float, float]:
    """(texts per wall-clock second, texts per CPU second) of predict_proba in this process."""
    from refusal_detector import RefusalDetector

    detector = RefusalDetector.from_pretrained(model, batch_size=batch_size)
    detector.predict_proba(texts[:batch_size])  # warm-up
    done = 0
    start, cpu_start = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        detector.predict_proba(texts)
        done += len(texts)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return done / wall, done / cpu


def process_cpu_seconds(pid: int, task: int | None = None) -> float:
    """User + system CPU seconds of a process and all its threads, or of one thread (Linux)."""
    path = Path(f"/proc/{pid}/stat" if task is None else f"/proc/{pid}/task/{task}/stat")
    fields = path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(model: str | None, batch_size: int) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    command = [sys.executable, "-m", "refusal_detector", "serve", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--batch-size", str(batch_size), "--log-level", "warning"]
    if model:
        command += ["--model", model]
    process = subprocess.Popen(command)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return process, port
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not become ready in 300 s")


async def client(
    port: int,
    bodies: list[bytes],
    offset: int,
    stop_at: float,
    budget: list[int],
    latencies: list[float],
    errors: Counter[str],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = offset
    try:
        while budget[0] > 0 and time.perf_counter() < stop_at:
            budget[0] -= 1
            body = bodies[i % len(bodies)]
            i += 1
            head = (
                f"POST /v1/classify HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            sent = time.perf_counter()
            try:
                writer.write(head + body)
                await writer.drain()
                status_line = await reader.readline()
                length = 0
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[type(exc).__name__] += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            status = int(status_line.split()[1])
            if status == 200:
                latencies.append(time.perf_counter() - sent)
            else:
                errors[f"HTTP {status}"] += 1
    finally:
        writer.close()


async def load(
    port: int, texts: list[str], clients: int, duration: float, max_requests: int
) -> dict[str, Any]:
    bodies = [json.dumps({"texts": [t]}).encode() for t in texts]
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    budget = [max_requests]
    start = time.perf_counter()
    stop_at = start + duration
    await asyncio.gather(
        *(client(port, bodies, k * 7, stop_at, budget, latencies, errors) for k in range(clients))
    )
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
            if latencies
            else float("nan")
        )

    return {
        "requests_ok": len(latencies),
        "errors": dict(errors),
        "seconds": elapsed,
        "texts_per_s": len(latencies) / elapsed,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(latencies) * 1000 if latencies else float("nan"),
    }


def mean_batch(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    count = float(re.search(r"^refusal_detector_batch_texts_count (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]
    total = float(re.search(r"^refusal_detector_batch_texts_sum (\S+)$", text, re.M).group(1))  # type: ignore[union-attr]
    return total / count if count else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="model directory (default: the shipped one)")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default 60)")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="stop after this many")
    parser.add_argument("--batch-size", type=int, default=32, help="sequences per model call")
    parser.add_argument("--offline-seconds", type=float, default=15.0)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    if not 1 <= args.clients <= 1024 or not 0 < args.duration <= 600:
        parser.error("--clients must be in [1, 1024] and --duration in (0, 600]")

    texts = short_texts()
    load_before = os.getloadavg()[0]
    offline_before, offline_cpu_before = offline_throughput(
        args.model, args.batch_size, texts, args.offline_seconds
    )
    process, port = start_server(args.model, args.batch_size)
    try:
        server_cpu = process_cpu_seconds(process.pid)
        loop_cpu = process_cpu_seconds(process.pid, process.pid)  # main thread: the event loop
        if sys.platform != "win32":
            try:
                import uvloop

                asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            except ImportError:
                pass
        service = asyncio.run(load(port, texts, args.clients, args.duration, args.max_requests))
        server_cpu = process_cpu_seconds(process.pid) - server_cpu
        service["server_cpu_seconds"] = server_cpu
        service["event_loop_cpu_ms_per_request"] = (
            1000
            * (process_cpu_seconds(process.pid, process.pid) - loop_cpu)
            / service["requests_ok"]
        )
        service["texts_per_cpu_s"] = service["requests_ok"] / server_cpu
        service["mean_batch_texts"] = mean_batch(port)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    offline_after, offline_cpu_after = offline_throughput(
        args.model, args.batch_size, texts, args.offline_seconds
    )
    offline = (offline_before + offline_after) / 2
    offline_cpu = (offline_cpu_before + offline_cpu_after) / 2
    figures = {
        "clients": args.clients,
        "cpus": os.cpu_count(),
        "load_average_before_after": [load_before, os.getloadavg()[0]],
        "texts": len(texts),
        "offline_texts_per_s_before": offline_before,
        "offline_texts_per_s_after": offline_after,
        "offline_texts_per_cpu_s": offline_cpu,
        "service": service,
        "service_over_offline": service["texts_per_s"] / offline,
        "service_over_offline_per_cpu_s": service["texts_per_cpu_s"] / offline_cpu,
    }
    errors = ", ".join(f"{k}: {v}" for k, v in service["errors"].items()) or "none"
    rows = [
        "| measure | value |",
        "|---|---|",
        f"| offline batch ({args.batch_size}/call), before / after | {offline_before:,.0f} / {offline_after:,.0f} texts/s |",
        f"| service, {args.clients} clients, 1 text/request | {service['texts_per_s']:,.0f} texts/s ({service['requests_ok']:,} requests in {service['seconds']:.0f} s) |",
        f"| service / offline (mean of before and after) | {figures['service_over_offline']:.2f}x |",
        f"| per CPU second: offline / server process | {offline_cpu:,.1f} / {service['texts_per_cpu_s']:,.1f} texts (service / offline {figures['service_over_offline_per_cpu_s']:.2f}x) |",
        f"| event-loop thread CPU per request (HTTP, JSON, validation) | {service['event_loop_cpu_ms_per_request']:.2f} ms |",
        f"| latency p50 / p95 / p99 | {service['p50_ms']:.1f} / {service['p95_ms']:.1f} / {service['p99_ms']:.1f} ms |",
        f"| errors | {errors} |",
        f"| mean model batch | {service['mean_batch_texts']:.1f} texts |",
        f"| machine | {os.cpu_count()} CPUs, load average {load_before:.1f} before, {figures['load_average_before_after'][1]:.1f} after |",
    ]
    print("\n".join(rows))  # noqa: T201
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
