"""``avemo train``: one variant trained end to end on the feature store (no media decoded)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from avemo.fileio import atomic_path, atomic_write
from avemo.params import to_dict
from avemo.splits import read_splits
from avemo.training import backend, memory
from avemo.errors import SplitError
from avemo.splits import ALL
from avemo.training.config import TrainConfig, resolve_modalities
from avemo.training.data import (ClipSource, batches, load_inputs, model_inputs, open_stores, select, speaker_norm,
                                 split_mfcc_statistics)
from avemo.training.models import bn_momentum_for, build_model

log = logging.getLogger(__name__)
#: Input shapes given to the backbone builder for a modality the model lacks (never used).
NO_FACES, NO_MFCC = (50, 64, 64, 3), (9, 40, 40)


def fit(model, train_ds, val_ds, config: TrainConfig, history_csv: str | Path | None = None, verbose: int = 2,
        min_delta: float = 0.0):
    """``model.fit`` with early stopping on the validation loss (falls under ``min_delta`` do not
    count; best weights restored) and an optional per-epoch CSV log; returns Keras' History."""
    import keras

    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, min_delta=min_delta,
                                               restore_best_weights=True)]
    if history_csv:
        Path(history_csv).parent.mkdir(parents=True, exist_ok=True)
        callbacks.append(keras.callbacks.CSVLogger(str(history_csv)))
    # shuffle=False: the tf.data pipeline shuffles itself (Keras ignores the flag for datasets
    # but warns about its default on every run)
    return model.fit(train_ds, validation_data=val_ds, epochs=config.epochs, callbacks=callbacks, verbose=verbose,
                     shuffle=False)


def save_model(model, out: Path) -> None:
    """Save ``.keras`` atomically: a crash never leaves a half-written model under ``out``."""
    with atomic_path(out) as tmp:
        model.save(tmp)


def write_sidecar(model_path: Path, doc: dict) -> Path:
    """The JSON beside a saved model (``V.keras`` -> ``V.json``): how it was trained."""
    return atomic_write(model_path.with_suffix(".json"), json.dumps(doc, indent=1) + "\n")


@dataclass
class TrainResult:
    model_path: Path
    history: dict
    epochs_run: int
    best_epoch: int
    n_train: int
    n_val: int
    replicas: int = 1
    #: How the splits were fed (``train.stream``'s decision and why).
    input: str = ""
    #: The trained Keras model itself (best weights restored), as saved under ``model_path``.
    model: object = None
    #: The schedule that ran (:meth:`TrainConfig.for_split`).
    schedule: dict | None = None


def train_variant(variant: str, store: str | Path, splits: str | Path, out: str | Path,
                  config: TrainConfig = TrainConfig(), history_csv: str | Path | None = None,
                  verbose: int = 2) -> TrainResult:
    """Train ``variant`` on the train split with early stopping on the validation loss
    (best weights restored); save ``out`` (``.keras``) and the MFCC statistics beside it."""
    import keras

    backend.setup(config.seed, config.threads, config.cpu_devices)
    split_clips = read_splits(splits)
    config = replace(config, modalities=resolve_modalities(config.modalities, split_clips.media))
    for part in ("train", "val"):
        if not split_clips.clips(part):
            why = ("a speaker-independent model needs at least 3 speakers; use this corpus as a cross-corpus test "
                   "set (avemo evaluate --split all)" if split_clips.method.startswith("test only") else
                   "re-make the split with `avemo split` (or give the model a corpus with clips for it)")
            raise SplitError(f"the {part} split of {splits} has no clips ({split_clips.method or 'no method'}): {why}")
    inputs = model_inputs(config.modalities)  # a one-modality model reads its own store only
    readers = open_stores(store, sorted({s for s, _ in inputs.values()}))
    train = select(readers, split_clips.labelled("train"), "train")
    val = select(readers, split_clips.labelled("val"), "val")
    config, schedule = config.for_split(len(train.clip_ids))
    log.info("schedule: %s (%s)", schedule["name"], schedule["why"])
    face_shape = readers["faces"].spec("frames").shape if "faces" in readers else NO_FACES
    mfcc_shape = readers["mfcc"].spec("mfcc").shape if "mfcc" in readers else NO_MFCC
    per_clip = memory.clip_bytes(readers[store].spec(dataset) for store, dataset in inputs.values())
    need = (memory.split_bytes(per_clip, len(train.clip_ids) + len(val.clip_ids))
            + (memory.activation_bytes(config.batch_size, face_shape) if "faces" in readers else 0))
    stream, why = memory.decide_stream(config.stream, need, config.memory_gb)  # before anything is loaded
    log.info("training input: %s", why)
    # the lean CNN block is TensorFlow's (other backends run the plain one): recorded as it runs
    low_memory = (stream if config.low_memory == "auto" else bool(config.low_memory)) and backend.name() == "tensorflow"
    if not stream:
        train, val = load_inputs(readers, train, inputs), load_inputs(readers, val, inputs)
    # per-speaker standardisation: each speaker's own statistics over all of its clips (no labels)
    norm = speaker_norm(readers["mfcc"], split_clips.speakers(ALL)) if (
        config.normalise == "speaker" and "mfcc" in inputs) else None
    sources = [ClipSource(d, inputs, readers if stream else None, norm) for d in (train, val)]
    # the whole train split's MFCC statistics, whichever the mode (a face-only model, or speaker
    # standardisation done on the input: the identity)
    mean, var = (split_mfcc_statistics(sources[0]) if "mfcc" in inputs and norm is None
                 else (np.zeros(mfcc_shape[-1]), np.ones(mfcc_shape[-1])))
    train_ds = batches(sources[0], config.batch_size, True, config.seed)
    val_ds = batches(sources[1], config.batch_size, False, config.seed)
    scope, replicas = backend.make_strategy(config.strategy)
    if replicas > 1:  # the batch stays the paper's 16 clips, split between replicas
        log.warning("training %s on %d replicas; global batch %d", variant, replicas, config.batch_size)
    with scope:
        steps = -(-len(train.clip_ids) // config.batch_size)
        momentum = bn_momentum_for(steps)
        model = build_model(variant, face_shape, mfcc_shape, mean, var, (momentum, momentum), low_memory,
                            len(split_clips.labels), config.modalities)
        model.compile(optimizer=keras.optimizers.Adam(config.lr), loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
    out = Path(out)
    log.info("training %s on %d clips, validating on %d", variant, len(train.clip_ids), len(val.clip_ids))
    hist = fit(model, train_ds, val_ds, config, history_csv, verbose, schedule["min_delta"])
    save_model(model, out)
    losses = hist.history["val_loss"]
    best = int(np.argmin(losses))
    # the label set (class index = position) and the corpus: what evaluate and predict map onto
    sidecar = {"variant": variant, "labels": list(split_clips.labels), "corpus": split_clips.corpus,
               "modalities": config.modalities, "normalise": config.normalise if "mfcc" in inputs else "split",
               "schedule": schedule,
               "train": to_dict(config), "mfcc_mean": mean.tolist(), "mfcc_var": var.tolist(),
               "n_train": len(train.clip_ids), "n_val": len(val.clip_ids),
               "replicas": replicas, "backend": backend.name(), "stream": stream, "input": why,
               # the CPU threads change the float rounding of the reductions (docs/model.md)
               "threads": config.threads, "cores": os.cpu_count(),
               "low_memory": low_memory,
               "missing": {"train": len(train.missing), "val": len(val.missing)},
               "epochs_run": len(losses), "best_epoch": best + 1, "best_val_loss": float(losses[best]),
               "store_params": {m: r.params for m, r in readers.items()}}
    write_sidecar(out, sidecar)
    for r in readers.values():
        r.close()
    return TrainResult(out, hist.history, len(losses), best + 1, len(train.clip_ids), len(val.clip_ids),
                       replicas, why, model, schedule)
