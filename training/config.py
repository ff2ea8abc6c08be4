"""The trainer's frozen config, from the ``train`` section of params.yaml."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from avemo.corpus import is_demo_corpus
from avemo.errors import ConfigError
from avemo.params import require_positive

VARIANTS = ("gru", "lstm", "transformer", "maxpool")
#: ``train.modalities`` (the one list: :data:`avemo.training.models.MODALITIES` is this).
MODALITIES = ("av", "audio", "face")
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
    #: auto: in memory when the splits fit the memory budget, else read from the shards.
    stream: bool | str = "auto"
    #: The memory budget of in-memory training in GB (0: 70% of what the machine has available).
    memory_gb: float = 0.0
    #: Train the face CNN's first block lean (~0.5 GB less per step, ~18% more CPU time; TF
    #: only: :class:`avemo.training.models.ConvBlock`). auto: when streaming.
    low_memory: bool | str = "auto"
    threads: int = 0
    #: On the bundled demo corpus only (60 training clips that ``make demo`` must learn in
    #: minutes on a laptop CPU), these replace ``epochs``, ``lr`` and ``batch_size``; any other
    #: corpus trains with the paper's settings above.
    demo_epochs: int = 6
    demo_lr: float = 1e-3
    demo_batch_size: int = 8
    #: tf.distribute strategy: auto (MirroredStrategy when more than one GPU is visible),
    #: default (one device) or mirrored.
    strategy: str = "auto"
    #: Split the CPU into this many logical devices (> 1), so that ``mirrored`` runs without GPUs.
    cpu_devices: int = 0
    #: av: the paper's fused model; audio or face: that modality alone (an ablation).
    modalities: str = "av"

    def for_corpus(self, corpus_root: str | Path | None, keep: tuple[str, ...] = ()) -> "TrainConfig":
        """This config for a run on ``corpus_root``: on the demo corpus ``demo_epochs``,
        ``demo_lr`` and ``demo_batch_size`` replace ``epochs``, ``lr`` and ``batch_size``
        (except the fields named in ``keep``: set on the command line)."""
        if not is_demo_corpus(corpus_root):
            return self
        demo = {"epochs": self.demo_epochs, "lr": self.demo_lr, "batch_size": self.demo_batch_size}
        return replace(self, **{k: v for k, v in demo.items() if k not in keep})

    def validate(self, name: str = "train") -> None:
        for key in ("epochs", "batch_size", "patience", "demo_epochs", "demo_batch_size"):
            require_positive(key, name, getattr(self, key))
        for key in ("lr", "demo_lr"):
            if not isinstance(getattr(self, key), (int, float)) or not 0 < getattr(self, key) < 1:
                raise ConfigError(f"{name}.{key} must be in (0, 1), got {getattr(self, key)!r}")
        unknown = [v for v in self.variants if v not in VARIANTS]
        if unknown:
            raise ConfigError(f"{name}.variants: unknown {unknown}; known: {', '.join(VARIANTS)}")
        if self.stream not in (True, False, "auto"):
            raise ConfigError(f"{name}.stream must be auto, true or false, got {self.stream!r}")
        if self.low_memory not in (True, False, "auto"):
            raise ConfigError(f"{name}.low_memory must be auto, true or false, got {self.low_memory!r}")
        if not isinstance(self.memory_gb, (int, float)) or isinstance(self.memory_gb, bool) or self.memory_gb < 0:
            raise ConfigError(f"{name}.memory_gb must be 0 (the machine's available memory) or a positive "
                              f"number of GB, got {self.memory_gb!r}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"{name}.strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if not isinstance(self.cpu_devices, int) or self.cpu_devices < 0:
            raise ConfigError(f"{name}.cpu_devices must be 0 or a positive int, got {self.cpu_devices!r}")
        if self.modalities not in MODALITIES:
            raise ConfigError(f"{name}.modalities must be one of {', '.join(MODALITIES)}, got {self.modalities!r}")
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


@dataclass(frozen=True)
class EvalConfig:
    """How sure the test scores are (``eval`` section): the actor-clustered bootstrap and the
    paired permutation tests between variants (:mod:`avemo.training.stats`)."""

    #: Bootstrap resamples of the test actors (and permutations of the paired tests).
    replicates: int = 2000
    seed: int = 0
    #: Coverage of the intervals.
    level: float = 0.95
    #: The protocol (``avemo cv``, docs/model.md): K actor-disjoint folds (1: the single split),
    #: training seeds (empty: train.seed alone) and modality sets (av: the fused model; audio,
    #: face: its ablations), every combination trained and evaluated per variant.
    folds: int = 1
    seeds: tuple[int, ...] = ()
    modalities: tuple[str, ...] = ("av",)

    def validate(self, name: str = "eval") -> None:
        require_positive("replicates", name, self.replicates)
        if self.replicates < 100:
            raise ConfigError(f"{name}.replicates must be at least 100 (2,000 or more for a 95% interval), "
                              f"got {self.replicates}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError(f"{name}.seed must be an int, got {self.seed!r}")
        if not isinstance(self.level, float) or not 0.5 <= self.level < 1:
            raise ConfigError(f"{name}.level must be in [0.5, 1), e.g. 0.95, got {self.level!r}")
        require_positive("folds", name, self.folds)
        if not isinstance(self.seeds, tuple) or not all(isinstance(s, int) and not isinstance(s, bool)
                                                        for s in self.seeds) or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"{name}.seeds must be a list of distinct ints ([]: train.seed alone), got {self.seeds!r}")
        bad = [m for m in self.modalities if m not in MODALITIES]
        if bad or not self.modalities or len(set(self.modalities)) != len(self.modalities):
            raise ConfigError(f"{name}.modalities must list distinct values of {', '.join(MODALITIES)}, "
                              f"got {list(self.modalities)}")
