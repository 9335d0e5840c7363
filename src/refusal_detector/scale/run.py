"""predict_ray: the ``predict --engine ray`` pipeline (connect, read, score, write) in one call."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TypedDict, Unpack

import ray
import ray.data

from refusal_detector.errors import ConfigError
from refusal_detector.io.predict import PredictSummary
from refusal_detector.scale.score import score_dataset
from refusal_detector.scale.sinks import write_output
from refusal_detector.scale.sources import read_input

__all__ = ["ScoringOptions", "connect", "predict_ray"]

logger = logging.getLogger(__name__)


def connect(address: str | None = None, *, num_cpus: int | None = None) -> None:
    """Connect to the Ray cluster at ``address`` (``ray://...``, ``auto``), else start a local one.

    A Ray already initialised in this process is used as it is. ``num_cpus`` sizes a local Ray
    (default: all cores) and is ignored for a cluster.

    Raises:
        ConfigError: the cluster cannot be reached.
    """
    if ray.is_initialized():
        return
    try:
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ConfigError(
            f"cannot connect to Ray at {address or 'a new local cluster'}: {exc}"
        ) from exc


class ScoringOptions(TypedDict, total=False):
    """The keyword arguments :func:`predict_ray` passes on to :func:`score_dataset` as they are."""

    model: str | Path | None
    threshold: float
    num_workers: int
    cpus_per_worker: int
    batch_size: int
    max_chars: int | None
    reasoning: str


def predict_ray(
    input_spec: str,
    output: str | Path,
    *,
    fmt: str = "parquet",
    text_field: str = "text",
    field_prefix: str = "",
    chunk_rows: int = 1024,
    overwrite: bool = False,
    progress: bool = False,
    strict_cpus: bool = True,
    **scoring: Unpack[ScoringOptions],
) -> PredictSummary:
    """Score PATH_OR_GLOB into the directory ``output`` on the connected Ray (see :func:`connect`).

    ``scoring`` (``model``, ``threshold``, ``num_workers``, ``cpus_per_worker``, ``batch_size``,
    ``max_chars``, ``reasoning``) is passed to :func:`~refusal_detector.scale.score_dataset`; the
    other arguments mean what they mean for :func:`~refusal_detector.io.predict_file`,
    ``read_input`` and ``write_output``. With ``strict_cpus`` (right for a local Ray), a cluster
    with fewer CPUs than ``num_workers * cpus_per_worker`` is refused, since the job would wait
    forever; without it (an autoscaling cluster may grow) it is a warning.

    Raises:
        ConfigError: too few CPUs (see above), or an argument out of range.
        DataError, FileNotFoundError, ModelLoadError: as the functions it calls.
    """
    ray.data.DataContext.get_current().enable_progress_bars = progress
    cpus = int(ray.cluster_resources().get("CPU", 0))
    workers, per_worker = scoring.get("num_workers", 1), scoring.get("cpus_per_worker", 1)
    if cpus < workers * per_worker:
        message = (
            f"{workers} workers x {per_worker} CPUs need {workers * per_worker} CPUs; "
            f"the Ray cluster has {cpus}"
        )
        if strict_cpus:
            raise ConfigError(message + "; pass --num-workers with a smaller number")
        logger.warning("%s; waiting for the autoscaler", message)
    ds = read_input(input_spec, text_field=text_field, chunk_rows=chunk_rows, prefix=field_prefix)
    # A row of read_input's dataset is a whole chunk of up to chunk_rows input rows.
    scored = score_dataset(ds, text_field=text_field, prefix=field_prefix, batch_rows=1, **scoring)
    counts = write_output(scored, output, fmt=fmt, prefix=field_prefix, overwrite=overwrite)
    return PredictSummary(
        output=Path(output),
        rows=counts.rows,
        errors=counts.errors,
        resumed=0,
        warnings=counts.warnings,
    )
