"""Property-test figures for docs/reliability.md: cases tried and seconds per test, per profile.

    python benchmarks/fuzz.py                      # the CI profile: fixed seed, about 2 minutes
    python benchmarks/fuzz.py --profile long       # the benchmark profile: random, 25x the cases
    python benchmarks/fuzz.py --kill               # also time the 20-kill test

Runs ``pytest tests/test_fuzz_api.py tests/test_fuzz_files.py`` with ``HYPOTHESIS_PROFILE`` set
and ``--hypothesis-show-statistics``, and prints one markdown row per property test: the cases
that passed, failed and were rejected (hypothesis' "invalid") over all phases, and the seconds
hypothesis spent in them. Exits with pytest's exit code, so a failing property fails the run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUZZ_TESTS = ["tests/test_fuzz_api.py", "tests/test_fuzz_files.py"]
KILL_TEST = "tests/test_kill_resume.py"
_TEST = re.compile(r"^(tests/\S+::\S+):$")
_PHASE = re.compile(r"- during (\w+) phase \(([\d.]+) seconds\)")
_COUNTS = re.compile(r"- (\d+) passing, (\d+) failing, and (\d+) invalid")


def parse_statistics(output: str) -> dict[str, dict[str, float]]:
    """Per test: passing, failing and invalid cases and seconds, summed over hypothesis' phases."""
    stats: dict[str, dict[str, float]] = {}
    current: dict[str, float] | None = None
    for line in output.splitlines():
        line = line.strip()
        if match := _TEST.match(line):
            current = stats.setdefault(
                match.group(1), {"passing": 0, "failing": 0, "invalid": 0, "seconds": 0.0}
            )
        elif current is not None and (match := _PHASE.search(line)):
            current["seconds"] += float(match.group(2))
        elif current is not None and (match := _COUNTS.search(line)):
            for key, value in zip(("passing", "failing", "invalid"), match.groups(), strict=True):
                current[key] += int(value)
    return stats


def run(tests: list[str], profile: str) -> tuple[int, str, float]:
    env = {**os.environ, "HYPOTHESIS_PROFILE": profile}
    command = [sys.executable, "-m", "pytest", *tests, "-q", "-p", "no:cacheprovider"]
    start = time.perf_counter()
    done = subprocess.run(
        [*command, "--hypothesis-show-statistics"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, done.stdout + done.stderr, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="ci", choices=("ci", "long"))
    parser.add_argument("--kill", action="store_true", help="also time the 20-kill test")
    args = parser.parse_args()

    code, output, seconds = run(FUZZ_TESTS, args.profile)
    stats = parse_statistics(output)
    print(f"profile {args.profile}: pytest exit {code}, {seconds:.0f} s wall")  # noqa: T201
    print("| property test | cases passed | failed | rejected | seconds |")  # noqa: T201
    print("|---|---:|---:|---:|---:|")  # noqa: T201
    for name, row in stats.items():
        test = name.split("::")[-1]
        print(  # noqa: T201
            f"| `{test}` | {row['passing']:.0f} | {row['failing']:.0f} | "
            f"{row['invalid']:.0f} | {row['seconds']:.1f} |"
        )
    total = sum(row["passing"] for row in stats.values())
    print(f"| **all {len(stats)}** | {total:.0f} | | | {seconds:.0f} (wall) |")  # noqa: T201
    if code != 0:
        print(output[-6000:], file=sys.stderr)  # noqa: T201
    if args.kill:
        kill_code, kill_output, kill_seconds = run([KILL_TEST], args.profile)
        print(f"\n{KILL_TEST}: pytest exit {kill_code}, {kill_seconds:.0f} s wall")  # noqa: T201
        code = code or kill_code
        if kill_code != 0:
            print(kill_output[-6000:], file=sys.stderr)  # noqa: T201
    return code


if __name__ == "__main__":
    raise SystemExit(main())
