"""The trainer's input pipeline: a split's arrays from the two feature stores, as tf.data.

Default: the split is loaded into memory (full CREMA-D: ~4.6 GB of uint8 frames) and served
with ``from_tensor_slices``; frames stay uint8 and are scaled inside the model. ``stream``
reads clips from the HDF5 shards on the fly, for stores larger than memory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from features.reader import StoreReader
from pipeline.errors import StoreError
from pipeline.names import parse_clip_name

log = logging.getLogger(__name__)
MODALITIES = {"faces": "frames", "mfcc": "mfcc"}


@dataclass
class SplitData:
    """A split's clips present in both stores, with labels; ``missing`` were left out."""

    clip_ids: list[str]
    labels: np.ndarray
    missing: list[str]
    faces: np.ndarray | None = None
    mfcc: np.ndarray | None = None


def open_stores(store_root: str | Path) -> dict[str, StoreReader]:
    """``store_root/faces`` and ``store_root/mfcc`` readers; StoreError naming what is absent."""
    root = Path(store_root)
    readers = {}
    for modality, dataset in MODALITIES.items():
        path = root / modality
        if not (path / "store.json").is_file():
            raise StoreError(f"the store {root} lacks the {modality} modality ({path} is not a feature "
                             f"store): run `avemo extract {modality} --out {path}` first")
        reader = StoreReader(path)
        if reader.modality != modality:
            raise StoreError(f"{path} holds a {reader.modality} store, expected {modality}")
        readers[modality] = reader
    return readers


def select(readers: dict[str, StoreReader], clip_ids: list[str], split: str) -> SplitData:
    """The split's clips found in every store (others counted and logged), sorted by id."""
    present = [c for c in clip_ids if all(c in r for r in readers.values())]
    missing = sorted(set(clip_ids) - set(present))
    if missing:
        log.warning("%s split: %d of %d clip(s) missing from a store are left out (e.g. %s)",
                    split, len(missing), len(clip_ids), missing[0])
    if not present:
        raise StoreError(f"the {split} split has no clip present in both the faces and the mfcc store "
                         f"({len(clip_ids)} listed, {len(missing)} missing): check the split file and stores")
    present = sorted(present)
    labels = np.array([parse_clip_name(c).label for c in present], np.int32)
    return SplitData(present, labels, missing)


def load_split(readers: dict[str, StoreReader], clip_ids: list[str], split: str) -> SplitData:
    """Select the split and load both modalities into memory."""
    data = select(readers, clip_ids, split)
    data.faces = readers["faces"].load(data.clip_ids, ["frames"])["frames"]
    data.mfcc = readers["mfcc"].load(data.clip_ids, ["mfcc"])["mfcc"]
    return data


def mfcc_statistics(mfcc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-coefficient mean and variance over every window and frame -> two (C,) float64."""
    flat = mfcc.reshape(-1, mfcc.shape[-1]).astype(np.float64)
    return flat.mean(axis=0), np.maximum(flat.var(axis=0), 1e-8)


def tensor_dataset(inputs: dict[str, np.ndarray], labels: np.ndarray, batch_size: int, shuffle: bool, seed: int):
    """Batches of in-memory arrays (named model inputs) and labels, reshuffled every epoch with ``seed``."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((inputs, labels))
    if shuffle:
        ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def in_memory_dataset(data: SplitData, batch_size: int, shuffle: bool, seed: int):
    return tensor_dataset({"faces": data.faces, "mfcc": data.mfcc}, data.labels, batch_size, shuffle, seed)


def streaming_dataset(readers: dict[str, StoreReader], data: SplitData, batch_size: int, shuffle: bool,
                      seed: int):
    """Clips read from the shards as they are needed (order shuffled per epoch with the seed)."""
    import tensorflow as tf

    faces_spec = readers["faces"].spec("frames")
    mfcc_spec = readers["mfcc"].spec("mfcc")
    rng = np.random.default_rng(seed)

    def generate():
        order = rng.permutation(len(data.clip_ids)) if shuffle else np.arange(len(data.clip_ids))
        for i in order:
            c = data.clip_ids[i]
            yield ({"faces": readers["faces"].read(c, "frames"), "mfcc": readers["mfcc"].read(c, "mfcc")},
                   data.labels[i])

    signature = ({"faces": tf.TensorSpec(faces_spec.shape, tf.uint8),
                  "mfcc": tf.TensorSpec(mfcc_spec.shape, tf.float32)}, tf.TensorSpec((), tf.int32))
    return tf.data.Dataset.from_generator(generate, output_signature=signature).batch(batch_size).prefetch(2)
