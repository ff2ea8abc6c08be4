"""Head-only training on cached backbone embeddings (an extension beyond the paper).

The paper trains each variant end to end. Here the backbone of one trained model is frozen
(its embeddings cached by ``avemo embed``) and only a variant's sequence head, the fusion and
the dense layers are trained: a head, seed or learning rate can be compared in seconds on a
CPU. The trained head is re-assembled with the exact backbone that made the embeddings into
one ``.keras`` model taking faces and MFCCs, so ``avemo evaluate`` works on it unchanged.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from avemo.errors import ConfigError, StoreError
from avemo.features.reader import StoreReader
from avemo.params import to_dict
from avemo.splits import read_splits
from avemo.training import backend
from avemo.training.config import TrainConfig
from avemo.training.data import HEAD_ONLY, load_split, open_modality, tensor_dataset
from avemo.training.embed import MODALITY, backbone_hash, mfcc_statistics_of
from avemo.training.models import (EMBEDDING_MODALITY, MODALITY_LAYERS, build_head_model, build_model, load_model,
                                   modalities_of)
from avemo.training.train import TrainResult, fit, save_model, write_sidecar

log = logging.getLogger(__name__)


def open_embeddings(path: str | Path) -> StoreReader:
    """An embeddings store; StoreError naming what it is instead."""
    return open_modality(path, MODALITY, f": make one with `avemo embed --model MODEL.keras --store STORE "
                                         f"--out {path}`")


def check_backbone(model, expected_hash: str) -> None:
    """StoreError unless ``model``'s backbone is the one whose hash the embeddings store records."""
    found = backbone_hash(model)
    if found != expected_hash:
        raise StoreError(f"the backbone model {model.name} is not the one the embeddings were made with "
                         f"(weights hash {found[:12]} != {expected_hash[:12]}): a head can only be "
                         "assembled with its own backbone")


def assemble(backbone_model, head_model, variant: str, expected_hash: str | None = None):
    """One model taking ``faces`` and ``mfcc``: ``backbone_model``'s backbone weights and
    ``head_model``'s head, fusion and dense weights. ``expected_hash``: the embeddings store's
    backbone; a different backbone is refused (the head was trained on its embeddings only)."""
    if expected_hash is not None:
        check_backbone(backbone_model, expected_hash)
    mods = modalities_of(backbone_model)
    face_shape = tuple(backbone_model.get_layer("face_scale").input.shape[1:]) if mods != "audio" else (50, 64, 64, 3)
    mfcc_shape = tuple(backbone_model.get_layer("mfcc_standardise").input.shape[1:]) if mods != "face" else (9, 40, 40)
    stats = mfcc_statistics_of(backbone_model) if mods != "face" else (None, None)
    full = build_model(variant, face_shape, mfcc_shape, *stats, n_classes=int(head_model.get_layer("emotion").units),
                       modalities=mods)
    for name in MODALITY_LAYERS[mods]:
        full.get_layer(name).set_weights(backbone_model.get_layer(name).get_weights())
    if backbone_hash(full) != backbone_hash(backbone_model):
        raise StoreError("internal: the assembled backbone differs from its source model")
    for layer in head_model.layers:
        if layer.weights:
            full.get_layer(layer.name).set_weights(layer.get_weights())
    return full


def head_path(out: str | Path) -> Path:
    """Where the head-only model is saved beside the assembled one: ``V.keras`` -> ``V.head.keras``."""
    out = Path(out)
    return out.with_name(out.stem + ".head.keras")


def train_head(variant: str, embeddings: str | Path, splits: str | Path, out: str | Path,
               config: TrainConfig = TrainConfig(), backbone: str | Path | None = None,
               history_csv: str | Path | None = None, verbose: int = 2) -> TrainResult:
    """Train ``variant``'s head on cached embeddings with the paper's early stopping; save the
    head (``V.head.keras``) and the model re-assembled with the backbone (``out``). Runs on one
    device (``auto`` never mirrors here): a head epoch takes seconds."""
    import keras

    if config.strategy == "mirrored":
        raise ConfigError("head-only training runs on one device (seconds per epoch); MirroredStrategy is for "
                          "end-to-end training: drop --strategy mirrored / heads.strategy")
    backend.setup(config.seed, config.threads, config.cpu_devices)
    reader = open_embeddings(embeddings)
    params = reader.params
    backbone = Path(backbone) if backbone else Path(params["model_path"])
    if not backbone.is_file():
        raise StoreError(f"the backbone model {backbone} of {embeddings} is missing: pass --backbone MODEL.keras")
    backbone_model = load_model(backbone)
    check_backbone(backbone_model, params["backbone_sha256"])  # fail before training, not after
    split_clips = read_splits(splits)
    readers = {MODALITY: reader}
    inputs = {k: v for k, v in HEAD_ONLY.items() if any(s.name == k for s in reader.specs)}  # a one-modality backbone: one
    train = load_split(readers, split_clips.labelled("train"), "train", inputs)
    val = load_split(readers, split_clips.labelled("val"), "val", inputs)
    mods = "av" if len(inputs) == 2 else EMBEDDING_MODALITY[next(iter(inputs))]
    steps = {k: reader.spec(k).shape for k in inputs}
    dim = next(iter(steps.values()))[1]
    model = build_head_model(variant, steps.get("face_emb", (50,))[0], steps.get("audio_emb", (9,))[0], dim,
                             len(split_clips.labels), mods)
    config, schedule = config.for_split(len(train.clip_ids))
    model.compile(optimizer=keras.optimizers.Adam(config.lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    log.info("training the %s head on %d clips' embeddings, validating on %d", variant, len(train.clip_ids),
             len(val.clip_ids))
    hist = fit(model, tensor_dataset(train, config.batch_size, True, config.seed),
               tensor_dataset(val, config.batch_size, False, config.seed), config, history_csv, verbose,
               schedule["min_delta"])
    out = Path(out)
    save_model(model, head_path(out))
    save_model(assemble(backbone_model, model, variant, params["backbone_sha256"]), out)
    losses = hist.history["val_loss"]
    best = int(np.argmin(losses))
    sidecar = {"variant": variant, "mode": "heads", "labels": list(split_clips.labels), "corpus": split_clips.corpus,
               "modalities": mods, "train": to_dict(config), "schedule": schedule, "backbone": str(backbone),
               "backbone_sha256": params["backbone_sha256"], "embeddings": str(embeddings),
               "head_model": head_path(out).name, "backend": backend.name(),
               "n_train": len(train.clip_ids), "n_val": len(val.clip_ids),
               "missing": {"train": len(train.missing), "val": len(val.missing)}, "epochs_run": len(losses),
               "best_epoch": best + 1, "best_val_loss": float(losses[best])}
    write_sidecar(out, sidecar)
    reader.close()
    return TrainResult(out, hist.history, len(losses), best + 1, len(train.clip_ids), len(val.clip_ids))
