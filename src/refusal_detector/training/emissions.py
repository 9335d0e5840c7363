"""Energy and CO2 tracking with codecarbon's offline tracker (never touches the network).

The carbon intensity comes from codecarbon's bundled per-country energy mix, selected by a 3-letter
ISO country code; no geolocation or API call is made. Results of every training session (a resumed
run has several) are appended to ``emissions.json`` in the model directory, and the model card
reports their sum.
"""

from __future__ import annotations

import inspect
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from refusal_detector.errors import ConfigError, DataError
from refusal_detector.io.files import atomic_write_text

__all__ = ["EmissionsSession", "EmissionsTracker", "read_emissions"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmissionsSession:
    """One tracked session: kg CO2-eq, kWh, seconds, where and on what it ran."""

    emissions_kg: float
    energy_kwh: float
    duration_s: float
    country_iso_code: str
    cpu_model: str
    gpu_model: str
    tracking_mode: str
    started_at: float


class EmissionsTracker:
    """Context manager around ``codecarbon.OfflineEmissionsTracker``.

    With ``enabled=False`` it records nothing (for tests and for non-main processes in distributed
    training). After the block, :attr:`session` holds the measurement.

    Raises:
        ConfigError: ``country_iso_code`` is not a 3-letter code.
    """

    def __init__(self, *, country_iso_code: str = "USA", enabled: bool = True) -> None:
        code = country_iso_code.strip().upper()
        if len(code) != 3 or not code.isalpha():
            raise ConfigError(
                f"country_iso_code must be a 3-letter ISO 3166 code such as USA, FRA or DEU; "
                f"got {country_iso_code!r}"
            )
        self.country_iso_code = code
        self.enabled = enabled
        self.session: EmissionsSession | None = None
        self._tracker: Any = None
        self._started = 0.0

    def __enter__(self) -> EmissionsTracker:
        self._started = time.time()
        if self.enabled:
            from codecarbon import OfflineEmissionsTracker

            # codecarbon 3 replaced save_to_file with output_methods (and warns on the old name);
            # either way nothing is written: the result goes to emissions.json via append_to.
            params = inspect.signature(OfflineEmissionsTracker.__init__).parameters
            quiet_output: dict[str, Any] = (
                {"output_methods": []}
                if "output_methods" in params or "output_methods" in _base_params()
                else {"save_to_file": False}
            )
            self._tracker = OfflineEmissionsTracker(
                country_iso_code=self.country_iso_code,
                log_level="error",
                allow_multiple_runs=True,
                **quiet_output,
            )
            self._tracker.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._tracker is None:
            return
        emissions = self._tracker.stop()
        data = self._tracker.final_emissions_data
        self.session = EmissionsSession(
            emissions_kg=float(emissions or 0.0),
            energy_kwh=float(getattr(data, "energy_consumed", 0.0) or 0.0),
            duration_s=float(getattr(data, "duration", time.time() - self._started) or 0.0),
            country_iso_code=self.country_iso_code,
            cpu_model=str(getattr(data, "cpu_model", "") or ""),
            gpu_model=str(getattr(data, "gpu_model", "") or ""),
            tracking_mode=str(getattr(data, "tracking_mode", "") or ""),
            started_at=self._started,
        )
        logger.info(
            "emissions: %.3g kg CO2-eq, %.3g kWh over %.0f s (%s)",
            self.session.emissions_kg,
            self.session.energy_kwh,
            self.session.duration_s,
            self.country_iso_code,
        )

    def append_to(self, path: Path) -> None:
        """Append :attr:`session` (if any) to the JSON file ``path`` (``{"sessions": [...]}``)."""
        if self.session is None:
            return
        record = read_emissions(path) if path.is_file() else {"sessions": []}
        record["sessions"].append(asdict(self.session))
        record["total_emissions_kg"] = sum(s["emissions_kg"] for s in record["sessions"])
        record["total_energy_kwh"] = sum(s["energy_kwh"] for s in record["sessions"])
        record["total_duration_s"] = sum(s["duration_s"] for s in record["sessions"])
        atomic_write_text(path, json.dumps(record, indent=2) + "\n")


def _base_params() -> Any:
    from codecarbon.emissions_tracker import BaseEmissionsTracker

    return inspect.signature(BaseEmissionsTracker.__init__).parameters


def read_emissions(path: Path) -> dict[str, Any]:
    """Read an ``emissions.json`` written by :meth:`EmissionsTracker.append_to`."""
    value = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(value, dict) or not isinstance(value.get("sessions"), list):
        raise DataError(f"{path}: expected an object with a 'sessions' list")
    return value
