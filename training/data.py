"""The trainer's input pipeline: a split's arrays from feature stores, in shuffled batches.

Default: the split is loaded into memory; ``stream`` reads clips from the HDF5 shards on the
fly, for stores larger than memory. Frames stay uint8 and are scaled inside the model. Under
the TensorFlow backend batches come from ``tf.data``; under JAX and PyTorch from a
``keras.utils.PyDataset`` over numpy (no TensorFlow needed). The same functions feed
end-to-end training (faces and MFCC stores) and head-only training (the embeddings store): a
model input is named by the store and dataset it comes from (:data:`END_TO_END`,
:data:`HEAD_ONLY`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import keras
import numpy as np

from avemo.errors import StoreError
from avemo.features.reader import StoreReader
from avemo.features.schema import STORE_META
from avemo.names import parse_clip_name
from avemo.training import backend

log = logging.getLogger(__name__)
#: Model input -> (store, dataset), for the full model and for the head-only model.
END_TO_END: dict[str, tuple[str, str]] = {"faces": ("faces", "frames"), "mfcc": ("mfcc", "mfcc")}
HEAD_ONLY: dict[str, tuple[str, str]] = {"face_emb": ("embeddings", "face_emb"),
                                         "audio_emb": ("embeddings", "audio_emb")}


@dataclass
class SplitData:
    """A split's clips present in every store, sorted, with labels; ``missing`` were left out.
    ``inputs``: model input name -> (N, ...) array, once loaded."""

    clip_ids: list[str]
    labels: np.ndarray
    missing: list[str]
    inputs: dict[str, np.ndarray] = field(default_factory=dict)


def open_stores(store_root: str | Path) -> dict[str, StoreReader]:
    """``store_root/faces`` and ``store_root/mfcc`` readers; StoreError naming what is absent."""
    root = Path(store_root)
    readers = {}
    for modality in ("faces", "mfcc"):
        path = root / modality
        if not (path / STORE_META).is_file():
            raise StoreError(f"the store {root} lacks the {modality} modality ({path} is not a feature "
                             f"store): run `avemo extract {modality} --out {path}` first")
        readers[modality] = open_modality(path, modality)
    return readers


def open_modality(path: str | Path, modality: str, hint: str = "") -> StoreReader:
    """The store at ``path``, which must hold ``modality``; StoreError saying what it holds."""
    reader = StoreReader(path)
    if reader.modality != modality:
        reader.close()
        raise StoreError(f"{path} holds a {reader.modality} store, not {modality}{hint}")
    return reader


def select(readers: Mapping[str, StoreReader], clip_ids: list[str], split: str) -> SplitData:
    """The split's clips found in every store (others counted and logged), sorted by id."""
    present = sorted(c for c in clip_ids if all(c in r for r in readers.values()))
    missing = sorted(set(clip_ids) - set(present))
    roots = ", ".join(str(r.root) for r in readers.values())
    if missing:
        log.warning("%s split: %d of %d clip(s) missing from a store (%s) are left out (e.g. %s)",
                    split, len(missing), len(clip_ids), roots, missing[0])
    if not present:
        raise StoreError(f"the {split} split has no clip present in every store ({roots}; {len(clip_ids)} "
                         f"listed, {len(missing)} missing): check the split file and stores")
    labels = np.array([parse_clip_name(c).label for c in present], np.int32)
    return SplitData(present, labels, missing)


def load_split(readers: Mapping[str, StoreReader], clip_ids: list[str], split: str,
               inputs: Mapping[str, tuple[str, str]] = END_TO_END) -> SplitData:
    """Select the split and load every model input of ``inputs`` into memory."""
    data = select({store: readers[store] for store, _ in inputs.values()}, clip_ids, split)
    return load_inputs(readers, data, inputs)


def load_inputs(readers: Mapping[str, StoreReader], data: SplitData,
                inputs: Mapping[str, tuple[str, str]] = END_TO_END) -> SplitData:
    """Load every model input of ``inputs`` of a selected split into memory (``data.inputs``)."""
    for name, (store, dataset) in inputs.items():
        data.inputs[name] = readers[store].load(data.clip_ids, [dataset])[dataset]
    return data


def mfcc_statistics(mfcc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-coefficient mean and variance over every window and frame -> two (C,) float64."""
    flat = mfcc.reshape(-1, mfcc.shape[-1]).astype(np.float64)
    return flat.mean(axis=0), np.maximum(flat.var(axis=0), 1e-8)


class Batches(keras.utils.PyDataset):
    """Shuffled batches for backends without tf.data: ``(inputs, labels)`` per batch, the order
    drawn anew each epoch from a generator seeded once (as tf.data's reshuffle does)."""

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int, take):
        super().__init__()
        self.n, self.batch_size, self.shuffle, self.take = n, batch_size, shuffle, take
        self._rng = np.random.default_rng(seed)
        self._order = self._rng.permutation(n) if shuffle else np.arange(n)

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __getitem__(self, i: int):
        return self.take(self._order[i * self.batch_size:(i + 1) * self.batch_size])

    def on_epoch_end(self) -> None:
        if self.shuffle:
            self._order = self._rng.permutation(self.n)


def tensor_dataset(data: SplitData, batch_size: int, shuffle: bool, seed: int):
    """Batches of the loaded inputs and labels, reshuffled every epoch with ``seed``."""
    if backend.name() != "tensorflow":
        return Batches(len(data.labels), batch_size, shuffle, seed,
                       lambda idx: ({k: a[idx] for k, a in data.inputs.items()}, data.labels[idx]))
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((dict(data.inputs), data.labels))
    if shuffle:
        ds = ds.shuffle(len(data.labels), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def streaming_dataset(readers: Mapping[str, StoreReader], data: SplitData, batch_size: int, shuffle: bool,
                      seed: int, inputs: Mapping[str, tuple[str, str]] = END_TO_END):
    """Clips read from the shards as they are needed (order shuffled per epoch with the seed)."""
    if backend.name() != "tensorflow":
        def take(idx):
            return ({name: np.stack([readers[store].read(data.clip_ids[i], dataset) for i in idx])
                     for name, (store, dataset) in inputs.items()}, data.labels[idx])

        return Batches(len(data.labels), batch_size, shuffle, seed, take)
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def generate():
        order = rng.permutation(len(data.clip_ids)) if shuffle else np.arange(len(data.clip_ids))
        for i in order:
            c = data.clip_ids[i]
            yield ({name: readers[store].read(c, dataset) for name, (store, dataset) in inputs.items()},
                   data.labels[i])

    specs = {name: readers[store].spec(dataset) for name, (store, dataset) in inputs.items()}
    signature = ({name: tf.TensorSpec(s.shape, tf.as_dtype(s.dtype)) for name, s in specs.items()},
                 tf.TensorSpec((), tf.int32))
    return tf.data.Dataset.from_generator(generate, output_signature=signature).batch(batch_size).prefetch(2)
