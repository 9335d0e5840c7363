"""write_output: a scored Ray Dataset to a directory of Parquet or JSONL files, counting errors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import ray.data
from ray.data import SaveMode
from ray.data.block import Block, BlockAccessor
from ray.data.datasource import BlockBasedFileDatasink

from refusal_detector.errors import ConfigError, DataError
from refusal_detector.io.chunk_scoring import AddedFields
from refusal_detector.io.formats import write_part
from refusal_detector.scale.sources import IO_CPUS

__all__ = ["OUTPUT_FORMATS", "WriteCounts", "write_output"]

OUTPUT_FORMATS = ("parquet", "jsonl")


@dataclass(frozen=True)
class WriteCounts:
    """Rows written, how many of them have an error and how many a warning."""

    rows: int
    errors: int
    warnings: int = 0


def write_output(
    ds: ray.data.Dataset,
    output: str | Path,
    *,
    fmt: str = "parquet",
    prefix: str = "",
    overwrite: bool = False,
) -> WriteCounts:
    """Run the pipeline behind ``ds`` and write it to the directory ``output``; return counts.

    One file per write task (``*.parquet`` or ``*.jsonl``). JSONL lines are written by the local
    engine's writer: an error row has no label or score field, a classified row no error field.
    A local ``output`` that exists and is not empty is refused unless ``overwrite`` (which empties
    it first); a remote one that exists is refused likewise. Writes are not atomic: after a
    failure, rerun with ``overwrite``.

    Raises:
        ConfigError: unknown format.
        DataError: the output directory is not empty.
    """
    if fmt not in OUTPUT_FORMATS:
        raise ConfigError(f"format must be one of {', '.join(OUTPUT_FORMATS)}, got {fmt!r}")
    target = str(output)
    local = "://" not in target
    if local:
        path = Path(target)
        if path.exists() and not path.is_dir():
            raise DataError(f"{path}: output must be a directory, and this is a file")
        if path.is_dir() and any(path.iterdir()) and not overwrite:
            raise DataError(
                f"{path}: output directory is not empty; remove it, choose another, "
                "or pass --overwrite"
            )
        target = str(path.resolve())
    mode = SaveMode.OVERWRITE if overwrite else (SaveMode.APPEND if local else SaveMode.ERROR)
    sink = _CountingDatasink(target, fmt=fmt, added=AddedFields(prefix), mode=mode)
    ds.write_datasink(sink, ray_remote_args={"num_cpus": IO_CPUS})
    return WriteCounts(rows=sink.rows, errors=sink.errors, warnings=sink.warnings)


class _CountingDatasink(BlockBasedFileDatasink):
    """Parquet or JSONL files; each write task returns (rows, errors, warnings) for the driver to
    add up."""

    def __init__(self, path: str, *, fmt: str, added: AddedFields, mode: SaveMode) -> None:
        super().__init__(path, file_format=fmt, mode=mode)
        self._fmt = fmt
        self._added = added
        self.rows = 0
        self.errors = 0
        self.warnings = 0

    def write(self, blocks: Iterable[Block], ctx: Any) -> Any:
        blocks = list(blocks)
        rows = errors = warnings = 0
        for block in blocks:
            table = BlockAccessor.for_block(block).to_arrow()
            rows += table.num_rows
            errors += _non_null(table, self._added.error)
            warnings += _non_null(table, self._added.warning)
        super().write(blocks, ctx)
        return (rows, errors, warnings)

    def write_block_to_file(self, block: BlockAccessor, file: pa.NativeFile) -> None:
        table = block.to_arrow()
        if self._fmt == "parquet":
            pq.write_table(table, file)
            return
        added = set(self._added.names)
        rows = [
            {k: v for k, v in row.items() if v is not None or k not in added}
            for row in table.to_pylist()
        ]
        write_part(rows, "jsonl", file, columns=None)

    def on_write_complete(self, write_result: Any) -> None:
        for result in write_result.write_returns:
            if result is not None:
                self.rows += result[0]
                self.errors += result[1]
                self.warnings += result[2]
        super().on_write_complete(write_result)


def _non_null(table: pa.Table, name: str) -> int:
    if name not in table.column_names:
        return 0
    column = table.column(name)
    return len(column) - column.null_count
