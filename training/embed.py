"""``avemo embed``: a trained model's backbone run once over every clip, into an embeddings store.

The backbone is what all four variants share: the per-step face and MFCC CNNs with their
per-modality Dense(64), i.e. the model's ``face_embed`` and ``audio_embed`` outputs. Its store
(modality ``embeddings``: ``face_emb`` (T, 64) and ``audio_emb`` (W, 64) float32 per clip)
records the backbone's identity (a hash of its weights) and the feature stores it read, so
embeddings of two backbones are never mixed, and a head trained on them is only ever
re-assembled with the backbone that made them.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from avemo.errors import StoreError
from avemo.features.config import StoreConfig
from avemo.features.schema import DatasetSpec
from avemo.features.writer import RunReport, SourceInfo, StoreWriter
from avemo.training import backend
from avemo.training.data import open_stores
from avemo.training.data import inputs_of
from avemo.training.evaluate import model_normalisation
from avemo.training.models import BACKBONE_OUTPUTS, EMBEDDING_MODALITY, MODALITY_LAYERS, load_model, modalities_of

log = logging.getLogger(__name__)
MODALITY = "embeddings"


def embeddings_of(model) -> dict[str, str]:
    """Embeddings dataset -> backbone layer of the modalities the model has (both, or its one)."""
    mods = modalities_of(model)
    return {d: layer for d, layer in BACKBONE_OUTPUTS.items() if mods == "av" or EMBEDDING_MODALITY[d] == mods}


def backbone_of(model):
    """The model's backbone as a Keras model: ``{faces, mfcc}`` -> ``[face_emb, audio_emb]`` (a
    one-modality model: its one input -> ``[its embedding]``)."""
    import keras

    outputs = [model.get_layer(layer).output for layer in embeddings_of(model).values()]
    return keras.Model(model.inputs, outputs, name="backbone")


def mfcc_statistics_of(model) -> tuple[np.ndarray, np.ndarray]:
    """The train-split MFCC mean and variance a model standardises with (constants of its
    Normalization layer's config, not weights)."""
    cfg = model.get_layer("mfcc_standardise").get_config()
    return np.asarray(cfg["mean"], np.float64), np.asarray(cfg["variance"], np.float64)


def backbone_hash(model) -> str:
    """SHA-256 of the backbone's weights (layer names, variable order, shapes and bytes) and its
    MFCC statistics: equal exactly when two models embed every clip the same way."""
    h = hashlib.sha256()
    mods = modalities_of(model)
    if mods != "face":
        for a in mfcc_statistics_of(model):
            h.update(np.ascontiguousarray(a).tobytes())
    for name in MODALITY_LAYERS[mods]:
        for i, w in enumerate(model.get_layer(name).weights):  # not w.path: it differs once reloaded
            a = np.ascontiguousarray(backend.to_numpy(w))
            h.update(f"{name}/{i}:{a.dtype}{a.shape};".encode())
            h.update(a.tobytes())
    return h.hexdigest()


def embed_store(model_path: str | Path, store: str | Path, out: str | Path, store_config: StoreConfig = StoreConfig(),
                batch_size: int = 16, force: bool = False, progress: bool = True) -> RunReport:
    """Embed every clip present in both feature stores under ``store`` into ``out``.

    A clip is current (skipped on a re-run) when its faces and MFCC rows still have the source
    hashes they had; a clip in only one store is recorded as a failure. A store made by another
    backbone (or from other feature stores) is refused unless ``force``.
    """
    model = load_model(model_path)
    if model_normalisation(model_path) == "speaker":
        raise StoreError(f"{model_path} was trained with train.normalise: speaker: head-only training embeds with "
                         "the split's statistics only; use a backbone trained with train.normalise: split")
    backbone = backbone_of(model)
    inputs = inputs_of(model)  # input name -> (store, dataset); a one-modality model: its one
    readers = open_stores(store, sorted({s for s, _ in inputs.values()}))
    shapes = {d: tuple(t.shape[1:]) for d, t in zip(embeddings_of(model), backbone.outputs)}
    params = {"backbone_sha256": backbone_hash(model), "model_path": str(model_path),
              "stores": {m: r.params for m, r in readers.items()}}
    report = RunReport()
    specs = tuple(DatasetSpec(d, shape, "float32") for d, shape in shapes.items())
    with StoreWriter(out, MODALITY, params, specs,
                     shard_size=store_config.shard_size, compression=store_config.compression,
                     force=force) as writer:
        todo = []
        clips = sorted(set().union(*(r.clip_ids for r in readers.values())))
        report.total = len(clips)
        for clip in clips:
            lacking = next((m for m, r in readers.items() if clip not in r), None)
            if lacking:
                writer.fail(clip, str(Path(store) / lacking), f"no {lacking}",
                            f"{clip} is not in the {lacking} store ({Path(store) / lacking})")
                report.count_failure(f"no {lacking}")
                continue
            entries = [readers[m].entry(clip) for m in sorted(readers)]
            # the av key as before (faces:mfcc); a one-modality backbone: its one store's hash
            sha = hashlib.sha256(":".join(e["sha256"] for e in entries).encode()).hexdigest()
            info = SourceInfo(str(Path(store)), sum(int(e["bytes"]) for e in entries), sha)
            if writer.is_current(clip, sha):
                report.skipped += 1
            else:
                todo.append((clip, info))
        bar = tqdm(total=len(todo), desc="embeddings", unit="clip", disable=not progress)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            ids = [c for c, _ in chunk]
            x = {name: readers[st].load(ids, [ds])[ds] for name, (st, ds) in inputs.items()}
            out_ = backbone(x, training=False)
            out_ = out_ if isinstance(out_, (list, tuple)) else [out_]
            emb = {d: backend.to_numpy(a).astype(np.float32) for d, a in zip(shapes, out_)}
            for i, (clip, info) in enumerate(chunk):
                writer.add(clip, {d: a[i] for d, a in emb.items()}, info)
            report.stored += len(chunk)
            bar.update(len(chunk))
        bar.close()
        report.store_clips = len(writer.index["clips"])
    for r in readers.values():
        r.close()
    if report.store_clips == 0:
        raise StoreError(f"no clip is in every feature store the model reads under {store}: nothing to embed")
    return report
