"""Exception hierarchy: every error the package raises derives from RefusalDetectorError."""

from __future__ import annotations

__all__ = [
    "BackendUnavailableError",
    "ConfigError",
    "DataError",
    "ExportValidationError",
    "InvalidTextError",
    "ModelLoadError",
    "RefusalDetectorError",
]


class RefusalDetectorError(Exception):
    """Base class of all refusal-detector errors."""


class DataError(RefusalDetectorError, ValueError):
    """Input data is malformed; the message names the file and line (``path:line``) where known."""


class ModelLoadError(RefusalDetectorError, OSError):
    """A model directory is missing, incomplete or corrupt; the message names the file."""


class BackendUnavailableError(RefusalDetectorError, ImportError):
    """The requested inference backend's dependencies are not installed."""


class ExportValidationError(RefusalDetectorError):
    """An exported model disagrees with its source beyond the tolerance."""


class ConfigError(RefusalDetectorError, ValueError):
    """A configuration value is out of range; the message names field, value and allowed range."""


class InvalidTextError(RefusalDetectorError, TypeError):
    """A text given to the detector is not a string; the message names its index (``texts[3]``).

    ``index`` is that position, or None when ``texts`` itself is neither a str nor a sequence.
    """

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index
