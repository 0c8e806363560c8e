"""Engine configuration: defaults, a TOML file, `CONVERGENT_*` variables, command-line flags.

Precedence, lowest first: built-in defaults, the TOML file (`--config PATH`, or
`./convergent.toml` when present), environment variables `CONVERGENT_<KEY>`
(upper-case key), then explicit command-line values. Unknown keys and values of
the wrong type are `ConfigError`s naming the key and where it came from.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from supervisor.errors import ConfigError
from supervisor.template import Limits

DEFAULT_DB_URL = "sqlite:///./.convergent/state.db"
DEFAULT_CONFIG_FILE = "convergent.toml"


@dataclass(frozen=True)
class Config:
    db: str = DEFAULT_DB_URL
    #: the code path for newly created stacks
    convergence_engine: bool = False
    #: actor operations running at once per engine (the waiting is never limited)
    max_concurrent_actions: int = 64
    #: seconds between engine heartbeats
    heartbeat_interval: float = 2.0
    #: an engine whose heartbeat is older than this many seconds is dead
    engine_timeout: float = 10.0
    #: seconds between polls of the store for events and cancel requests
    poll_interval: float = 0.05
    max_template_bytes: int = Limits.max_template_bytes
    max_resources_per_stack: int = Limits.max_resources
    max_template_depth: int = Limits.max_depth
    project_id: str = ""
    #: the anyio backend the command line runs on: trio or asyncio
    backend: str = "trio"
    log_format: str = "auto"
    log_level: str = "warning"

    @property
    def limits(self) -> Limits:
        return Limits(
            max_template_bytes=self.max_template_bytes,
            max_resources=self.max_resources_per_stack,
            max_depth=self.max_template_depth,
        )


_TYPES: dict[str, type] = {f.name: type(f.default) for f in fields(Config)}


def load_config(
    path: str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    cwd: Path | None = None,
) -> Config:
    """Build the configuration from file, environment and explicit overrides."""
    values: dict[str, Any] = {}
    file = Path(path) if path is not None else (cwd or Path.cwd()) / DEFAULT_CONFIG_FILE
    if path is not None or file.is_file():
        values.update(_read_file(file))
    env = os.environ if environ is None else environ
    for name in _TYPES:
        raw = env.get(f"CONVERGENT_{name.upper()}")
        if raw is not None:
            values[name] = _from_text(name, raw, f"CONVERGENT_{name.upper()}")
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
    return dataclasses.replace(Config(), **values)


def _read_file(file: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"config file {file}: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"config file {file}: {err}") from None
    section = data.get("convergent", data)
    if not isinstance(section, dict):
        raise ConfigError(f"config file {file}: [convergent] must be a table")
    result: dict[str, Any] = {}
    for key, value in section.items():
        name = key.replace("-", "_")
        if name not in _TYPES:
            raise ConfigError(f"config file {file}: unknown key {key!r}")
        result[name] = _check_type(name, value, f"config file {file}")
    return result


def _check_type(name: str, value: Any, where: str) -> Any:
    expected = _TYPES[name]
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, bool) != (expected is bool) or not isinstance(value, expected):
        raise ConfigError(f"{where}: {name} must be a {expected.__name__}, got {value!r}")
    return value


def _from_text(name: str, raw: str, where: str) -> Any:
    expected = _TYPES[name]
    if expected is bool:
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{where}: expected a boolean, got {raw!r}")
    if expected in (int, float):
        try:
            return expected(raw)
        except ValueError:
            raise ConfigError(f"{where}: expected a {expected.__name__}, got {raw!r}") from None
    return raw
