"""The trainer's frozen config, from the ``train`` section of params.yaml."""

from __future__ import annotations

from dataclasses import dataclass, replace

from avemo.errors import ConfigError
from avemo.params import require_positive
from avemo.splits import LOSO

VARIANTS = ("gru", "lstm", "transformer", "maxpool")
#: The classical baseline's name in Table I and its metrics file (``metrics/eval/NAME.json``).
BASELINE = "egemaps-svm"
#: ``train.modalities`` (the one list: :data:`avemo.training.models.MODALITIES` is this).
MODALITIES = ("av", "audio", "face")
#: ``train.modalities: auto``: the corpus' own (its split record's ``media``).
AUTO = "auto"
NATIVE = {"av": "av", "audio": "audio", "video": "face"}
#: What each modality set needs of a corpus' media.
NEEDS = {"av": {"av"}, "audio": {"av", "audio"}, "face": {"av", "video"}}
STRATEGIES = ("auto", "default", "mirrored")
#: ``train.schedule``: the paper's fixed settings, or training to convergence by the validation
#: loss (a small corpus: the paper's 15 epochs at 1e-4 leave it undertrained); auto: the paper's
#: on a training split of at least ``paper_min_clips`` clips (CREMA-D's: ~5,700), else converge.
SCHEDULES = ("auto", "paper", "converge")
#: ``train.normalise``: the MFCC input standardised with the train split's statistics (the
#: paper's), or each speaker's with that speaker's own (all of its clips, no labels used).
NORMALISATIONS = ("split", "speaker")


def resolve_modalities(requested: str, media: str, key: str = "train.modalities") -> str:
    """``requested`` (``auto``: the corpus' own) as av/audio/face for a corpus of ``media``
    (av, audio, video); ConfigError, before any work, when the corpus lacks what it needs."""
    if requested == AUTO:
        return NATIVE[media]
    if media not in NEEDS[requested]:
        raise ConfigError(f"{key} is {requested}, but the corpus is {media}-only (its split record): a "
                          f"{requested} model needs {'faces and audio' if requested == 'av' else requested}. "
                          f"Set {key}: auto (the corpus' own, {NATIVE[media]}) or {NATIVE[media]}")
    return requested


@dataclass(frozen=True)
class TrainConfig:
    """The paper's defaults: Adam 1e-4, batch 16, 15 epochs, early stopping on val loss; on a small
    corpus (``schedule: auto``) training to convergence instead (:meth:`for_split`)."""

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
    #: paper, converge, or auto (the paper's on a training split of ``paper_min_clips`` or more).
    schedule: str = "auto"
    paper_min_clips: int = 2000
    #: The converge schedule: up to ``converge_epochs`` epochs at ``converge_lr``, stopped when the
    #: validation loss has not improved for ``converge_patience`` epochs, best weights restored.
    converge_epochs: int = 200
    converge_lr: float = 1e-3
    converge_patience: int = 10
    #: The smallest fall of the validation loss that counts as an improvement (converge only;
    #: the paper's early stopping counts any fall).
    converge_min_delta: float = 0.01
    #: split (the paper's train-split MFCC statistics) or speaker (each speaker's own).
    normalise: str = "split"
    #: tf.distribute strategy: auto (MirroredStrategy when more than one GPU is visible),
    #: default (one device) or mirrored.
    strategy: str = "auto"
    #: Split the CPU into this many logical devices (> 1), so that ``mirrored`` runs without GPUs.
    cpu_devices: int = 0
    #: av: the paper's fused model; audio or face: that modality alone (an ablation); auto: the
    #: corpus' own (av on an audio-visual corpus, audio on a speech corpus, face on silent video).
    modalities: str = AUTO

    def for_split(self, n_train: int) -> tuple["TrainConfig", dict]:
        """The settings that run on a training split of ``n_train`` clips, and the schedule's record
        (name, why, epochs, lr, batch size, patience) for the sidecar and the report: ``paper``
        keeps epochs/lr/patience; ``converge`` puts the converge_* values in their place."""
        name = self.schedule
        if name == "auto":
            name = "paper" if n_train >= self.paper_min_clips else "converge"
            why = (f"auto: {n_train} training clips {'>=' if name == 'paper' else '<'} train.paper_min_clips "
                   f"{self.paper_min_clips}")
        else:
            why = f"train.schedule: {name}"
        cfg = self if name == "paper" else replace(self, epochs=self.converge_epochs, lr=self.converge_lr,
                                                   patience=self.converge_patience)
        return cfg, {"name": name, "why": why, "epochs": cfg.epochs, "lr": cfg.lr, "batch_size": cfg.batch_size,
                     "patience": cfg.patience, "min_delta": 0.0 if name == "paper" else self.converge_min_delta,
                     "restore_best_weights": True}

    def validate(self, name: str = "train") -> None:
        for key in ("epochs", "batch_size", "patience", "converge_epochs", "converge_patience", "paper_min_clips"):
            require_positive(key, name, getattr(self, key))
        if not isinstance(self.converge_min_delta, (int, float)) or isinstance(self.converge_min_delta, bool) \
                or self.converge_min_delta < 0:
            raise ConfigError(f"{name}.converge_min_delta must be a number >= 0, got {self.converge_min_delta!r}")
        for key in ("lr", "converge_lr"):
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
        if self.modalities not in (AUTO, *MODALITIES):
            raise ConfigError(f"{name}.modalities must be one of {AUTO}, {', '.join(MODALITIES)}, got {self.modalities!r}")
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"{name}.schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.normalise not in NORMALISATIONS:
            raise ConfigError(f"{name}.normalise must be one of {', '.join(NORMALISATIONS)}, got {self.normalise!r}")
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
    #: The protocol (``avemo cv``, docs/model.md): K actor-disjoint folds (1: the single split;
    #: ``loso``: leave one speaker out, a fold per speaker),
    #: training seeds (empty: train.seed alone) and modality sets (av: the fused model; audio,
    #: face: its ablations), every combination trained and evaluated per variant.
    folds: int | str = 1
    seeds: tuple[int, ...] = ()
    modalities: tuple[str, ...] = (AUTO,)

    def validate(self, name: str = "eval") -> None:
        require_positive("replicates", name, self.replicates)
        if self.replicates < 100:
            raise ConfigError(f"{name}.replicates must be at least 100 (2,000 or more for a 95% interval), "
                              f"got {self.replicates}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError(f"{name}.seed must be an int, got {self.seed!r}")
        if not isinstance(self.level, float) or not 0.5 <= self.level < 1:
            raise ConfigError(f"{name}.level must be in [0.5, 1), e.g. 0.95, got {self.level!r}")
        if self.folds != LOSO:
            require_positive("folds", name, self.folds)
        if not isinstance(self.seeds, tuple) or not all(isinstance(s, int) and not isinstance(s, bool)
                                                        for s in self.seeds) or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"{name}.seeds must be a list of distinct ints ([]: train.seed alone), got {self.seeds!r}")
        bad = [m for m in self.modalities if m not in (AUTO, *MODALITIES)]
        if bad or not self.modalities or len(set(self.modalities)) != len(self.modalities):
            raise ConfigError(f"{name}.modalities must list distinct values of {AUTO}, {', '.join(MODALITIES)}, "
                              f"got {list(self.modalities)}")
