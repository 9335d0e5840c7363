"""Small file helpers shared across the package: a JSON-lines reader, atomic writes, progress bars.

Torch-free and light (standard library; tqdm is imported only when a bar is shown), so the data
build, the training commands and the batch predictor can all use them.

- :func:`read_jsonl` yields ``(line number, object)`` and raises :class:`DataError` naming
  ``path:line`` for a line that is not a JSON object;
- :func:`atomic_path`, :func:`atomic_write`, :func:`atomic_write_text`,
  :func:`atomic_write_jsonl` and :func:`atomic_copy` write beside the target and rename into place,
  so a reader never sees a half-written file and a failed write never replaces a good one;
- :class:`ProgressBar` and :func:`progress` draw a bar with rate and ETA on stderr when enabled.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

from refusal_detector.errors import DataError

__all__ = [
    "ProgressBar",
    "atomic_copy",
    "atomic_path",
    "atomic_write",
    "atomic_write_jsonl",
    "atomic_write_text",
    "progress",
    "read_jsonl",
]

T = TypeVar("T")


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, object)`` for each non-blank line; ``.gz`` files are decompressed.

    Raises:
        DataError: the file cannot be read, or a line is not valid JSON or not an object (the
            message names ``path:line``).
    """
    opener: Callable[..., IO[str]] = gzip.open if path.suffix == ".gz" else open
    try:
        handle = opener(path, "rt", encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    with handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
            if not isinstance(value, dict):
                raise DataError(
                    f"{path}:{lineno}: expected a JSON object, found {type(value).__name__}"
                )
            yield lineno, value


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A fresh temporary path beside ``target``, renamed onto it when the block succeeds.

    For writers that want a path (``torch.onnx.export``, ``quantize_dynamic``). The temporary file
    is named ``.<target name>.<random>.tmp`` and removed if the block raises.
    """
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write(
    target: Path, write: Callable[[IO[bytes]], object], *, durable: bool = False
) -> None:
    """Call ``write`` on a binary file beside ``target``, then rename it onto ``target``.

    Args:
        durable: also fsync the file and its directory, so the rename survives a crash (what
            ``predict --resume`` relies on after ``kill -9``).
    """
    with atomic_path(target) as tmp, tmp.open("wb") as handle:
        write(handle)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    if durable:
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(target: Path, text: str, *, durable: bool = False) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically."""
    data = text.encode("utf-8")
    atomic_write(target, lambda handle: handle.write(data), durable=durable)


def atomic_write_jsonl(target: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write one JSON object per line (UTF-8, not ASCII-escaped) atomically; return the count."""
    count = 0

    def write(handle: IO[bytes]) -> None:
        nonlocal count
        for row in rows:
            handle.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
            count += 1

    atomic_write(target, write)
    return count


def atomic_copy(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


class ProgressBar:
    """A progress bar with rate and ETA on stderr, or nothing at all when ``enabled`` is False.

    Drive it with :meth:`update` (``n`` more done) or :meth:`update_to` (``done`` of ``total``,
    for callbacks that report both); use it as a context manager or call :meth:`close`.
    """

    def __init__(self, *, enabled: bool, **options: Any) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(file=sys.stderr, **options)

    def update(self, n: int = 1) -> None:
        """Advance by ``n``."""
        if self._bar is not None:
            self._bar.update(n)

    def update_to(self, done: int, total: int) -> None:
        """Show ``done`` of ``total``."""
        if self._bar is not None:
            self._bar.total = total
            self._bar.n = done
            self._bar.refresh()

    def close(self) -> None:
        """Finish the bar (a no-op when disabled)."""
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def progress(iterable: Iterable[T], *, enabled: bool, **options: Any) -> Iterator[T]:
    """Iterate ``iterable`` with a progress bar when ``enabled`` (tqdm options pass through)."""
    if not enabled:
        yield from iterable
        return
    from tqdm import tqdm

    yield from tqdm(iterable, file=sys.stderr, **options)
