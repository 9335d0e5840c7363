"""Repeated ``kill -9``: one ``predict`` run killed at 20 random moments, resumed each time.

Each kill is a real SIGKILL that the child process sends itself just before a chosen I/O moment
(a model call, a write into a part or the output, an fsync, a rename, an unlink during cleanup), so
nothing runs after it: no ``finally``, no buffered flush. Fourteen moments are drawn with a fixed
seed from the scoring of the whole file (addressed as "the k-th moment of chunk j", so that a
resumed run, which skips the finished chunks, still reaches them); six are in the final assembly:
half-way through writing the output, just before and just after its rename, before the parts
directory is renamed away, during its removal, and one more at random. After the last kill a plain
``--resume`` finishes, and the output must equal an uninterrupted run row for row: every input row
exactly once, in order, with the same score.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from refusal_detector.io.predict import parts_dir

SCORING_KILLS = 14
SEED = 16
CHUNK_ROWS = 6
MAX_CHARS = 20_000
Moment = tuple[str, int, str]  # phase, chunk (-1 in the assembly), what was about to happen

_CHILD = textwrap.dedent(
    """
    import glob, os, signal, sys
    from refusal_detector import RefusalDetector
    from refusal_detector.cli import main
    from refusal_detector.io import predict as predict_module

    model, source, target, log_path, mode, a, b, chunk_rows, max_chars = sys.argv[1:10]
    kill_chunk, kill_at = int(a), int(b)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    finished = len(glob.glob(glob.escape(target + ".parts") + "/part-*"))
    state = {"phase": "score", "chunk": finished, "offset": 0, "assembly": 0}

    def moment(name):
        if state["phase"] == "score":
            state["offset"] += 1
            hit = mode == "chunk" and (state["chunk"], state["offset"]) == (kill_chunk, kill_at)
        else:
            state["assembly"] += 1
            hit = mode == "assemble" and state["assembly"] == kill_at
        where = state["chunk"] if state["phase"] == "score" else -1
        os.write(log, f"{state['phase']} {where} {name}\\n".encode())
        if hit:
            os.kill(os.getpid(), signal.SIGKILL)
        if state["phase"] == "score" and name.startswith("replace part-"):
            state["chunk"] += 1
            state["offset"] = 0

    def hook(owner, attr, name_of):
        original = getattr(owner, attr)

        def wrapper(*args, **kwargs):
            moment(name_of(*args))
            return original(*args, **kwargs)

        setattr(owner, attr, wrapper)

    class CountingWriter:
        def __init__(self, handle, name):
            self.handle, self.name = handle, name

        def write(self, data):
            moment(self.name)
            return self.handle.write(data)

    def counting(function, name, phase=None):
        def wrapper(rows_or_parts, fmt, target, **kwargs):
            if phase:
                state["phase"] = phase
            return function(rows_or_parts, fmt, CountingWriter(target, name), **kwargs)

        return wrapper

    hook(RefusalDetector, "predict_proba", lambda *a: "score")
    hook(os, "fsync", lambda *a: "fsync")
    hook(os, "replace", lambda src, dst, *a: "replace " + os.path.basename(os.fspath(dst)))
    hook(os, "unlink", lambda path, *a: "unlink")
    hook(os, "rmdir", lambda path, *a: "rmdir")
    predict_module.write_part = counting(predict_module.write_part, "write-part")
    predict_module.merge_parts = counting(predict_module.merge_parts, "write-output", "assemble")
    argv = ["predict", "--model", model, "-i", source, "-o", target, "--max-chars", max_chars]
    sys.exit(main([*argv, "--chunk-size", chunk_rows, "--resume", "--quiet"]))
    """
)


def _input_lines() -> list[bytes]:
    lines = []
    for i in range(80):
        kind = i % 10
        if kind == 3:
            lines.append(json.dumps({"id": i, "text": f"row {i} \ud800 sorry"}).encode())
        elif kind == 5:
            lines.append(b'{"id": %d, "text": "bad \xff bytes, I cannot help"}' % i)
        elif kind == 7:
            lines.append(b"not json at all")
        elif kind == 8:
            lines.append(json.dumps({"id": i, "text": None}).encode())
        else:
            text = "sure, here is the recipe for pancakes " * (1 + i % 4) + f"number {i}"
            lines.append(json.dumps({"id": i, "text": text, "n": i}).encode())
    # Longer than --max-chars: scored on a cut, with a warning, in every run alike.
    lines.insert(40, json.dumps({"id": "long", "text": "the king of the city " * 1_500}).encode())
    return lines


def _run(model: Path, source: Path, target: Path, log: Path, mode: str, chunk: int, at: int) -> int:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    argv = [str(model), str(source), str(target), str(log), mode, str(chunk), str(at)]
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, *argv, str(CHUNK_ROWS), str(MAX_CHARS)],
        env=env,
        capture_output=True,
        check=False,
    )
    assert b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")
    return done.returncode


def _moments(log: Path) -> list[Moment]:
    rows = (line.split(" ", 2) for line in log.read_text().splitlines())
    return [(phase, int(chunk), name) for phase, chunk, name in rows]


def _scoring_kills(moments: list[Moment], rng: random.Random) -> list[tuple[int, int]]:
    """(chunk, 1-based moment within the chunk) of SCORING_KILLS moments, in file order: two of
    them just before a model call (a chunk has one, against a dozen writes), the rest random."""
    offsets: Counter[int] = Counter()
    positions, model_calls = [], []
    for phase, chunk, name in moments:
        if phase == "score":
            offsets[chunk] += 1
            positions.append((chunk, offsets[chunk]))
            if name == "score":
                model_calls.append((chunk, offsets[chunk]))
    chosen = set(rng.sample(model_calls, 2))
    while len(chosen) < SCORING_KILLS:
        chosen.add(rng.choice(positions))
    return sorted(chosen)


def _assembly_kills(moments: list[Moment], rng: random.Random) -> list[int]:
    """1-based assembly moments: the named ones, then one at random."""
    assembly = [name for phase, _, name in moments if phase == "assemble"]
    writes = [i for i, name in enumerate(assembly) if name == "write-output"]
    rename_output = assembly.index("replace out.jsonl")
    rename_parts = assembly.index("replace .out.jsonl.parts.done")
    unlinks = [i for i, name in enumerate(assembly) if name == "unlink" and i > rename_parts]
    named = [
        writes[len(writes) // 2],  # half the output written
        rename_output - 1,  # written and fsynced, not yet renamed
        rename_output + 1,  # renamed, the parts directory still there
        rename_parts,  # just before the parts directory is renamed away
        unlinks[len(unlinks) // 2],  # half-way through removing it
    ]
    return [p + 1 for p in [*named, rng.randrange(len(assembly))]]


@pytest.mark.slow
def test_twenty_kills_and_resumes_give_every_row_exactly_once(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(_input_lines()) + b"\n")
    rng = random.Random(SEED)

    reference = tmp_path / "reference" / "out.jsonl"
    reference.parent.mkdir()
    dry_log = tmp_path / "dry.log"
    assert _run(tiny_model_dir, source, reference, dry_log, "none", 0, 0) == 1  # some rows err
    moments = _moments(dry_log)

    target = tmp_path / "killed" / "out.jsonl"
    target.parent.mkdir()
    plan = [("chunk", chunk, at) for chunk, at in _scoring_kills(moments, rng)]
    plan += [("assemble", -1, at) for at in _assembly_kills(moments, rng)]
    last_moments = []
    for number, (mode, chunk, at) in enumerate(plan):
        log = tmp_path / f"kill-{number:02d}.log"
        code = _run(tiny_model_dir, source, target, log, mode, chunk, at)
        last_moments.append(_moments(log)[-1])
        assert code == -signal.SIGKILL, (mode, chunk, at, last_moments[-1])
    assert len(last_moments) == 20
    # The kills hit model calls, part writes, renames, and the output's writes and rename.
    names = {name.split()[0] for _, _, name in last_moments}
    assert {"score", "write-part", "write-output", "replace", "unlink"} <= names

    assert _run(tiny_model_dir, source, target, tmp_path / "final.log", "none", 0, 0) == 1
    resumed = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines()]
    fresh = [json.loads(line) for line in reference.read_text(encoding="utf-8").splitlines()]
    assert len(resumed) == len(_input_lines())
    assert resumed == fresh  # same rows, same order, same fields, same scores
    assert sum("warning" in row for row in resumed) == 17  # 16 unencodable rows + the long one
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.jsonl"]  # nothing left over
    assert not parts_dir(target).exists()
