"""``predict`` section of params.yaml: how long recordings are cut into windows."""

from __future__ import annotations

from dataclasses import dataclass

from avemo.errors import ConfigError


@dataclass(frozen=True)
class PredictConfig:
    """A file longer than ``window`` seconds is predicted window by window (``hop`` apart), each
    window as one clip (CREMA-D's clips last 1.3-5 s, 2.5 s on average); ``batch_size`` clips
    go through the model at once."""

    window: float = 3.0
    hop: float = 1.5
    batch_size: int = 16

    def validate(self, name: str = "predict") -> None:
        for key in ("window", "hop"):
            value = getattr(self, key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"{name}.{key} must be a positive number of seconds, got {value!r}")
        if self.hop > self.window:
            raise ConfigError(f"{name}.hop ({self.hop} s) must not exceed {name}.window ({self.window} s): "
                              "windows would leave gaps")
        if not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ConfigError(f"{name}.batch_size must be a positive int, got {self.batch_size!r}")
