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
from avemo.training.models import BACKBONE_LAYERS, BACKBONE_OUTPUTS, load_model

log = logging.getLogger(__name__)
MODALITY = "embeddings"


def backbone_of(model):
    """The model's backbone as a Keras model: ``{faces, mfcc}`` -> ``[face_emb, audio_emb]``."""
    import keras

    outputs = [model.get_layer(layer).output for layer in BACKBONE_OUTPUTS.values()]
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
    for a in mfcc_statistics_of(model):
        h.update(np.ascontiguousarray(a).tobytes())
    for name in BACKBONE_LAYERS:
        for i, w in enumerate(model.get_layer(name).weights):  # not w.path: it differs once reloaded
            a = np.ascontiguousarray(backend.to_numpy(w))
            h.update(f"{name}/{i}:{a.dtype}{a.shape};".encode())
            h.update(a.tobytes())
    return h.hexdigest()


def embedding_specs(face_steps: int, audio_steps: int, dim: int) -> tuple[DatasetSpec, ...]:
    return (DatasetSpec("face_emb", (face_steps, dim), "float32"),
            DatasetSpec("audio_emb", (audio_steps, dim), "float32"))


def embed_store(model_path: str | Path, store: str | Path, out: str | Path, store_config: StoreConfig = StoreConfig(),
                batch_size: int = 16, force: bool = False, progress: bool = True) -> RunReport:
    """Embed every clip present in both feature stores under ``store`` into ``out``.

    A clip is current (skipped on a re-run) when its faces and MFCC rows still have the source
    hashes they had; a clip in only one store is recorded as a failure. A store made by another
    backbone (or from other feature stores) is refused unless ``force``.
    """
    model = load_model(model_path)
    if len(model.inputs) != 2:
        raise StoreError(f"{model_path} is a one-modality model (train.modalities ablation): head-only "
                         "training needs an audio-visual backbone; embed a model trained with modalities av")
    backbone = backbone_of(model)
    readers = open_stores(store)
    face_steps, dim = backbone.outputs[0].shape[1:]
    audio_steps = backbone.outputs[1].shape[1]
    params = {"backbone_sha256": backbone_hash(model), "model_path": str(model_path),
              "stores": {m: r.params for m, r in readers.items()}}
    report = RunReport()
    faces, mfcc = readers["faces"], readers["mfcc"]
    with StoreWriter(out, MODALITY, params, embedding_specs(face_steps, audio_steps, dim),
                     shard_size=store_config.shard_size, compression=store_config.compression,
                     force=force) as writer:
        todo = []
        clips = sorted(set(faces.clip_ids) | set(mfcc.clip_ids))
        report.total = len(clips)
        for clip in clips:
            if clip not in faces or clip not in mfcc:
                lacking = "faces" if clip not in faces else "mfcc"
                writer.fail(clip, str(Path(store) / lacking), f"no {lacking}",
                            f"{clip} is not in the {lacking} store ({Path(store) / lacking})")
                report.count_failure(f"no {lacking}")
                continue
            f, m = faces.entry(clip), mfcc.entry(clip)
            sha = hashlib.sha256(f"{f['sha256']}:{m['sha256']}".encode()).hexdigest()
            info = SourceInfo(str(Path(store)), int(f["bytes"]) + int(m["bytes"]), sha)
            if writer.is_current(clip, sha):
                report.skipped += 1
            else:
                todo.append((clip, info))
        bar = tqdm(total=len(todo), desc="embeddings", unit="clip", disable=not progress)
        for start in range(0, len(todo), batch_size):
            chunk = todo[start:start + batch_size]
            ids = [c for c, _ in chunk]
            x = {"faces": faces.load(ids, ["frames"])["frames"], "mfcc": mfcc.load(ids, ["mfcc"])["mfcc"]}
            face_emb, audio_emb = (backend.to_numpy(a).astype(np.float32) for a in backbone(x, training=False))
            for i, (clip, info) in enumerate(chunk):
                writer.add(clip, {"face_emb": face_emb[i], "audio_emb": audio_emb[i]}, info)
            report.stored += len(chunk)
            bar.update(len(chunk))
        bar.close()
        report.store_clips = len(writer.index["clips"])
    for r in readers.values():
        r.close()
    if report.store_clips == 0:
        raise StoreError(f"no clip is in both feature stores under {store}: nothing to embed")
    return report
