"""Loading ``params.yaml`` and turning one of its sections into a typed, frozen config.

Every package builds its stage configs with :func:`section` once, at the CLI, and passes the
frozen dataclass down; nothing reads params through globals.
"""

from __future__ import annotations

import dataclasses
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import yaml

from avemo.errors import ConfigError

DEFAULT_PARAMS = Path("params.yaml")

C = TypeVar("C")


def load_params(path: str | Path | None) -> dict[str, Any]:
    """Read a params file; ``None`` or a missing default ``params.yaml`` gives ``{}``."""
    if path is None:
        return {}
    p = Path(path)
    if not p.exists():
        if p == DEFAULT_PARAMS:
            return {}
        raise ConfigError(f"params file {p} does not exist")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"params file {p} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"params file {p} must hold a mapping of sections, not {type(data).__name__}")
    return data


def section(cls: type[C], params: dict[str, Any], name: str, **overrides: Any) -> C:
    """Build ``cls`` from ``params[name]``, then apply non-None ``overrides`` (CLI flags).

    Unknown keys are an error naming the section and key, so typos do not pass silently.
    """
    raw = params.get(name) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"params section {name!r} must be a mapping, got {raw!r}")
    known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"params section {name!r}: unknown key(s) {', '.join(unknown)} "
                          f"(known: {', '.join(known)})")
    values = dict(raw)
    values.update({k: v for k, v in overrides.items() if v is not None})
    for key, value in values.items():
        if isinstance(value, list):
            values[key] = tuple(value)
    try:
        cfg = cls(**values)
    except TypeError as exc:
        raise ConfigError(f"params section {name!r}: {exc}") from exc
    validate = getattr(cfg, "validate", None)
    if validate is not None:
        validate(name)
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """A config as plain JSON-able data (tuples become lists)."""
    out = dataclasses.asdict(cfg)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in out.items()}


def require_positive(name: str, section_name: str, value: Any, kind: type = int) -> None:
    """ConfigError naming ``section_name.name`` unless ``value`` is a positive ``kind``."""
    if not isinstance(value, kind) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{section_name}.{name} must be a positive {kind.__name__}, got {value!r}")


def jobs_of(params: dict[str, Any], flag: int | None) -> int:
    """Worker processes: the ``-j`` flag, else the top-level ``jobs`` param, else 1; -1 means
    every core. ConfigError for anything else."""
    value = flag if flag is not None else params.get("jobs", 1)
    if not isinstance(value, int) or isinstance(value, bool) or (value < 1 and value != -1):
        raise ConfigError(f"jobs must be a positive number of processes or -1 (all cores), got {value!r}")
    return value
