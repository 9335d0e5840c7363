"""The service's settings: command-line flags over environment over a YAML file over defaults.

Every field can be set as ``REFUSAL_DETECTOR_<NAME>`` in the environment
(``REFUSAL_DETECTOR_PORT=9000``) or as ``<name>: value`` in the YAML file given by ``--config``;
flags win over both. A bad value or an unknown key stops the start with a
:class:`~refusal_detector.errors.ConfigError` that names the setting, the value and what is allowed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from refusal_detector.errors import ConfigError

__all__ = ["ENV_PREFIX", "ServeSettings", "load_settings"]

ENV_PREFIX = "REFUSAL_DETECTOR_"


class ServeSettings(BaseSettings):
    """Settings of ``refusal-detector serve``; see the field descriptions (also in ``--help``)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="forbid", frozen=True, validate_default=True
    )

    host: str = Field(default="127.0.0.1", min_length=1, description="interface to listen on")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port")
    model: Path | None = Field(
        default=None, description="model directory (None: the shipped model)"
    )
    backend: Literal["auto", "onnx", "torch"] = Field(
        default="auto", description="inference backend"
    )
    batch_size: int = Field(default=32, ge=1, le=4096, description="sequences per model call")
    max_batch: int = Field(
        default=64,
        ge=1,
        le=4096,
        description="texts merged from concurrent requests into one batch",
    )
    max_wait_ms: float = Field(
        default=5.0,
        ge=0.0,
        le=1000.0,
        description="a batch closes when no request joined it for this long (ms)",
    )
    queue_size: int = Field(
        default=1024, ge=1, le=1_000_000, description="requests waiting for the model; beyond: 503"
    )
    request_timeout_s: float = Field(
        default=30.0, gt=0.0, le=3600.0, description="per-request time limit; beyond: 504"
    )
    max_text_chars: int = Field(
        default=100_000,
        ge=1,
        description="characters per text (longer: 413); scored through windows",
    )
    max_texts: int = Field(
        default=64, ge=1, le=100_000, description="texts per request (more: 413)"
    )
    max_body_bytes: int = Field(
        default=32 * 1024 * 1024, ge=1024, description="request body size in bytes (larger: 413)"
    )
    threshold: float = Field(
        default=0.5, ge=0.0, le=1.0, description="default /v1/classify threshold on P(REJECTION)"
    )
    scan_threshold: float = Field(
        default=0.75,
        gt=0.0,
        lt=1.0,
        description="NoRefusal threshold of /scan/output, /analyze/output",
    )
    scan_match_type: Literal["full", "sentence"] = Field(
        default="full", description="NoRefusal match type of /scan/output and /analyze/output"
    )
    scan_sentences_in_long_outputs: bool = Field(
        default=True, description="NoRefusal full mode also reads the sentences of long outputs"
    )
    api_token: SecretStr | None = Field(
        default=None, description="bearer token required by the scoring routes (None: no auth)"
    )
    retry_after_s: int = Field(default=1, ge=1, le=3600, description="Retry-After of 503 answers")
    graceful_timeout_s: float = Field(
        default=30.0,
        ge=0.0,
        le=3600.0,
        description="on SIGTERM, how long in-flight requests may finish",
    )
    log_level: Literal["critical", "error", "warning", "info", "debug"] = Field(
        default="info", description="uvicorn log level"
    )

    def model_dir(self) -> Path:
        """The model directory: ``model``, or the shipped default when it is None."""
        from refusal_detector.detector import default_model_dir

        return self.model.expanduser() if self.model is not None else default_model_dir()

    @model_validator(mode="after")
    def _check_token(self) -> ServeSettings:
        if self.api_token is not None and not self.api_token.get_secret_value().strip():
            raise ValueError("api_token must not be empty; leave it unset to disable auth")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Flags (init) > environment > YAML file; no .env or secrets directory is read.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("yaml_file"):
            sources.append(YamlConfigSettingsSource(settings_cls))
        return tuple(sources)


def load_settings(config_file: Path | None = None, **flags: Any) -> ServeSettings:
    """Settings from ``flags`` (None values are ignored), the environment and ``config_file``.

    Raises:
        ConfigError: the file is missing or not a YAML mapping, or a setting is invalid or unknown;
            the message names each bad setting, its value and where it may be set.
    """
    settings_cls: type[ServeSettings] = ServeSettings
    if config_file is not None:
        _check_yaml(config_file)

        class _FromFile(ServeSettings):
            model_config = SettingsConfigDict(yaml_file=config_file, yaml_file_encoding="utf-8")

        settings_cls = _FromFile
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        settings = settings_cls(**given)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, config_file)) from exc
    return settings


def _check_yaml(path: Path) -> None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    if data is not None and not isinstance(data, dict):
        raise ConfigError(
            f"{path}: expected a mapping of settings (e.g. 'port: 8000'), found "
            f"{type(data).__name__}"
        )


def _describe(exc: ValidationError, config_file: Path | None) -> str:
    lines = ["invalid service settings:"]
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        where = f"--{name.replace('_', '-')} / {ENV_PREFIX}{name.upper()}"
        if config_file is not None:
            where += f" / {name} in {config_file}"
        if error["type"] == "extra_forbidden":
            known = ", ".join(ServeSettings.model_fields)
            source = f" in {config_file}" if config_file is not None else ""
            lines.append(f"  {name}: unknown setting{source}; known settings: {known}")
            continue
        value = error.get("input")
        shown = "" if name == "api_token" else f", got {value!r}"
        lines.append(f"  {name} ({where}): {error['msg']}{shown}")
    return "\n".join(lines)
