"""The trainer's frozen config, from the ``train`` section of params.yaml."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from avemo.corpus import is_demo_corpus
from avemo.errors import ConfigError
from avemo.params import require_positive

VARIANTS = ("gru", "lstm", "transformer", "maxpool")
STRATEGIES = ("auto", "default", "mirrored")


@dataclass(frozen=True)
class TrainConfig:
    """The paper's defaults: Adam 1e-4, batch 16, 15 epochs, early stopping on val loss."""

    epochs: int = 15
    batch_size: int = 16
    lr: float = 1e-4
    patience: int = 5
    seed: int = 0
    variants: tuple[str, ...] = VARIANTS
    stream: bool = False
    threads: int = 0
    #: Epoch cap on the bundled demo corpus only (a 60-clip smoke test that must finish in
    #: minutes on a laptop CPU); any other corpus trains ``epochs``.
    demo_epochs: int = 2
    #: tf.distribute strategy: auto (MirroredStrategy when more than one GPU is visible),
    #: default (one device) or mirrored.
    strategy: str = "auto"
    #: Split the CPU into this many logical devices (> 1), so that ``mirrored`` runs without GPUs.
    cpu_devices: int = 0

    def for_corpus(self, corpus_root: str | Path | None) -> "TrainConfig":
        """This config for a run on ``corpus_root``: the demo corpus caps epochs at ``demo_epochs``."""
        if is_demo_corpus(corpus_root) and self.demo_epochs < self.epochs:
            return replace(self, epochs=self.demo_epochs)
        return self

    def validate(self, name: str = "train") -> None:
        for key in ("epochs", "batch_size", "patience", "demo_epochs"):
            require_positive(key, name, getattr(self, key))
        if not isinstance(self.lr, (int, float)) or not 0 < self.lr < 1:
            raise ConfigError(f"{name}.lr must be in (0, 1), got {self.lr!r}")
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ConfigError(f"{name}.variants: unknown {unknown}; known: {', '.join(VARIANTS)}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"{name}.strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if not isinstance(self.cpu_devices, int) or self.cpu_devices < 0:
            raise ConfigError(f"{name}.cpu_devices must be 0 or a positive int, got {self.cpu_devices!r}")
        if not isinstance(self.threads, int) or self.threads < 0:
            raise ConfigError(f"{name}.threads must be 0 (all cores) or a positive int, got {self.threads!r}")


@dataclass(frozen=True)
class HeadsConfig(TrainConfig):
    """Head-only training on cached embeddings (``heads`` section): the same defaults as end-to-end
    training, plus which trained variant's backbone makes the embeddings."""

    backbone: str = "gru"

    def validate(self, name: str = "heads") -> None:
        super().validate(name)
        if self.backbone not in VARIANTS:
            raise ConfigError(f"{name}.backbone must be one of {', '.join(VARIANTS)}, got {self.backbone!r}")
