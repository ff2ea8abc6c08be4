"""The store's layout options (the ``store`` section of params.yaml)."""

from __future__ import annotations

from dataclasses import dataclass

from avemo.errors import ConfigError
from avemo.params import require_positive


@dataclass(frozen=True)
class StoreConfig:
    """Store layout options; they do not change feature values, so they are not store params."""

    shard_size: int = 500
    compression: str = "none"

    def validate(self, name: str = "store") -> None:
        require_positive("shard_size", name, self.shard_size)
        if self.compression not in ("none", "lzf", "gzip"):
            raise ConfigError(f"{name}.compression must be none, lzf or gzip, got {self.compression!r}")
