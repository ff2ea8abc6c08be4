"""The trainer's input pipeline: a split's arrays from feature stores, in shuffled batches.

A split is loaded into memory, or (``train.stream``) read from the HDF5 shards batch by batch,
for stores larger than memory; both give the same batches in the same order
(:func:`epoch_order`) and the same MFCC statistics (:func:`split_mfcc_statistics`), so the
input mode never changes what is learned. Frames stay uint8 and are scaled inside the model. Under
the TensorFlow backend batches come from ``tf.data``; under JAX and PyTorch from a
``keras.utils.PyDataset`` over numpy (no TensorFlow needed). The same functions feed
end-to-end training (faces and MFCC stores) and head-only training (the embeddings store): a
model input is named by the store and dataset it comes from (:data:`END_TO_END`,
:data:`HEAD_ONLY`).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

import keras
import numpy as np

from avemo.errors import StoreError
from avemo.features.reader import StoreReader
from avemo.features.schema import STORE_META
from avemo.training import backend

log = logging.getLogger(__name__)
#: Model input -> (store, dataset), for the full model and for the head-only model.
END_TO_END: dict[str, tuple[str, str]] = {"faces": ("faces", "frames"), "mfcc": ("mfcc", "mfcc")}
HEAD_ONLY: dict[str, tuple[str, str]] = {"face_emb": ("embeddings", "face_emb"),
                                         "audio_emb": ("embeddings", "audio_emb")}
#: Which end-to-end inputs each ``train.modalities`` value uses.
MODALITY_INPUTS = {"av": ("faces", "mfcc"), "audio": ("mfcc",), "face": ("faces",)}


def model_inputs(modalities: str = "av") -> dict[str, tuple[str, str]]:
    """The end-to-end model inputs of ``modalities`` (``av``, ``audio``, ``face``)."""
    return {name: END_TO_END[name] for name in MODALITY_INPUTS[modalities]}


def inputs_of(model) -> dict[str, tuple[str, str]]:
    """The end-to-end inputs a built or loaded model takes (by their names)."""
    names = {getattr(t, "name", "").split(":")[0] for t in model.inputs}
    return {name: spec for name, spec in END_TO_END.items() if name in names}


@dataclass
class SplitData:
    """A split's clips present in every store, sorted, with labels; ``missing`` were left out.
    ``inputs``: model input name -> (N, ...) array, once loaded."""

    clip_ids: list[str]
    labels: np.ndarray
    missing: list[str]
    inputs: dict[str, np.ndarray] = field(default_factory=dict)


def open_stores(store_root: str | Path, modalities: Iterable[str] = ("faces", "mfcc")) -> dict[str, StoreReader]:
    """``store_root/M`` readers for each store ``M`` of ``modalities`` (default: faces and mfcc;
    a one-modality model opens only its own); StoreError naming what is absent."""
    root = Path(store_root)
    readers = {}
    for modality in modalities:
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


def select(readers: Mapping[str, StoreReader], clips: Mapping[str, int], split: str) -> SplitData:
    """The split's clips (clip id -> class index, as the split file records them) found in every
    store (others counted and logged), sorted by id, with their labels."""
    clip_ids = list(clips)
    present = sorted(c for c in clip_ids if all(c in r for r in readers.values()))
    missing = sorted(set(clip_ids) - set(present))
    roots = ", ".join(str(r.root) for r in readers.values())
    if missing:
        log.warning("%s split: %d of %d clip(s) missing from a store (%s) are left out (e.g. %s)",
                    split, len(missing), len(clip_ids), roots, missing[0])
    if not present:
        raise StoreError(f"the {split} split has no clip present in every store ({roots}; {len(clip_ids)} "
                         f"listed, {len(missing)} missing): check the split file and stores")
    labels = np.array([clips[c] for c in present], np.int32)
    return SplitData(present, labels, missing)


def load_split(readers: Mapping[str, StoreReader], clips: Mapping[str, int], split: str,
               inputs: Mapping[str, tuple[str, str]] = END_TO_END) -> SplitData:
    """Select the split (clip id -> class index) and load every model input of ``inputs`` into memory."""
    data = select({store: readers[store] for store, _ in inputs.values()}, clips, split)
    return load_inputs(readers, data, inputs)


def load_inputs(readers: Mapping[str, StoreReader], data: SplitData,
                inputs: Mapping[str, tuple[str, str]] = END_TO_END) -> SplitData:
    """Load every model input of ``inputs`` of a selected split into memory (``data.inputs``)."""
    for name, (store, dataset) in inputs.items():
        data.inputs[name] = readers[store].load(data.clip_ids, [dataset])[dataset]
    return data


#: Clips per chunk of the MFCC statistics' reduction: both input modes reduce the same chunks
#: in the same order, so they get the same bits (:func:`mfcc_statistics`).
STATS_CHUNK = 256


def mfcc_statistics(chunks: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-coefficient mean and (biased) variance over every clip, window and frame of
    ``chunks`` (arrays (n, W, F, C)) -> two (C,) float64.

    An exact streaming reduction: each chunk's mean and sum of squared deviations in float64,
    merged with Chan et al.'s pairwise update, so memory is one chunk whatever the split's size;
    the same chunks in the same order give the same bits whether they come from memory or from
    the shards (:func:`split_mfcc_statistics`)."""
    n, mean, m2 = 0, None, None
    for chunk in chunks:
        flat = np.asarray(chunk).reshape(-1, chunk.shape[-1]).astype(np.float64)
        nb = flat.shape[0]
        if nb == 0:
            continue
        mb = flat.mean(axis=0)
        m2b = ((flat - mb) ** 2).sum(axis=0)
        if mean is None:
            n, mean, m2 = nb, mb, m2b
            continue
        delta, total = mb - mean, n + nb
        mean = mean + delta * (nb / total)
        m2 = m2 + m2b + delta ** 2 * (n * nb / total)
        n = total
    if mean is None:
        raise StoreError("no MFCC values to compute the normalisation statistics from (empty split)")
    return mean, np.maximum(m2 / n, 1e-8)


def split_mfcc_statistics(source: "ClipSource") -> tuple[np.ndarray, np.ndarray]:
    """The MFCC normalisation statistics of a whole split, read in :data:`STATS_CHUNK`-clip
    chunks in clip-id order (one pass over the shards when streaming)."""
    n = len(source.data.clip_ids)
    return mfcc_statistics(source.take(np.arange(a, min(a + STATS_CHUNK, n)), ["mfcc"])["mfcc"]
                           for a in range(0, n, STATS_CHUNK))


def epoch_order(n: int, seed: int, epoch: int, shuffle: bool) -> np.ndarray:
    """The clip order of one epoch: a permutation drawn from ``(seed, epoch)`` alone (or
    ``0..n-1`` without shuffling). The one shuffle source of every input mode and backend, so
    that where the clips come from never changes what is learned."""
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([seed, epoch]).permutation(n)


def speaker_statistics(reader: StoreReader, speakers: Mapping[str, str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Speaker -> (mean, standard deviation) float32 (C,) of the MFCCs of all of that speaker's
    clips in ``reader`` (``speakers``: clip id -> speaker, every split's clips: no label is
    used), by the exact reduction of :func:`mfcc_statistics`."""
    by_speaker: dict[str, list[str]] = {}
    for clip, speaker in sorted(speakers.items()):
        if clip in reader:
            by_speaker.setdefault(speaker, []).append(clip)
    out = {}
    for speaker, clips in sorted(by_speaker.items()):
        mean, var = mfcc_statistics(reader.load(clips[a:a + STATS_CHUNK], ["mfcc"])["mfcc"]
                                    for a in range(0, len(clips), STATS_CHUNK))
        out[speaker] = (mean.astype(np.float32), np.sqrt(var).astype(np.float32))
    return out


@dataclass(frozen=True)
class SpeakerNorm:
    """Per-speaker standardisation of the ``mfcc`` input (``train.normalise: speaker``): each
    clip's coefficients minus its speaker's mean, over its speaker's standard deviation."""

    speakers: Mapping[str, str]
    stats: Mapping[str, tuple[np.ndarray, np.ndarray]]

    def apply(self, clip_ids: list[str], mfcc: np.ndarray) -> np.ndarray:
        mean = np.stack([self.stats[self.speakers[c]][0] for c in clip_ids])
        std = np.stack([self.stats[self.speakers[c]][1] for c in clip_ids])
        shape = (len(clip_ids),) + (1,) * (mfcc.ndim - 2) + (mfcc.shape[-1],)
        return ((mfcc - mean.reshape(shape)) / std.reshape(shape)).astype(np.float32)


def speaker_norm(reader: StoreReader, speakers: Mapping[str, str]) -> SpeakerNorm:
    """The :class:`SpeakerNorm` of the speakers of ``speakers`` (clip id -> speaker) in ``reader``."""
    return SpeakerNorm(dict(speakers), speaker_statistics(reader, speakers))


@dataclass
class ClipSource:
    """A selected split's model inputs, from memory (``data.inputs`` loaded) or read from the
    shards batch by batch (``readers``): ``take(idx)`` gives the same arrays either way.
    ``norm``: per-speaker MFCC standardisation, applied as the clips are taken."""

    data: SplitData
    inputs: Mapping[str, tuple[str, str]]
    readers: Mapping[str, StoreReader] | None = None
    norm: SpeakerNorm | None = None

    @property
    def streamed(self) -> bool:
        return self.readers is not None

    def take(self, idx: np.ndarray, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Model input name -> (len(idx), ...) array of the clips at positions ``idx``."""
        names = list(names or self.inputs)
        if not self.streamed:
            out = {name: self.data.inputs[name][idx] for name in names}
        else:
            ids = [self.data.clip_ids[i] for i in idx]
            out = {name: self.readers[self.inputs[name][0]].load(ids, [self.inputs[name][1]])[self.inputs[name][1]]
                   for name in names}
        if self.norm is not None and "mfcc" in out:
            out["mfcc"] = self.norm.apply([self.data.clip_ids[i] for i in idx], out["mfcc"])
        return out

    def specs(self) -> dict[str, tuple[tuple[int, ...], str]]:
        """Model input name -> (one clip's shape, dtype)."""
        if not self.streamed:
            return {name: (a.shape[1:], a.dtype.name) for name, a in self.data.inputs.items()}
        return {name: (s.shape, s.dtype) for name, s in
                ((name, self.readers[store].spec(ds)) for name, (store, ds) in self.inputs.items())}


class Batches(keras.utils.PyDataset):
    """Batches for backends without tf.data: ``(inputs, labels)`` per batch, in the order of
    :func:`epoch_order` for each epoch."""

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: int, take):
        super().__init__()
        self.n, self.batch_size, self.shuffle, self.seed, self.take = n, batch_size, shuffle, seed, take
        self._epoch = 0
        self._order = epoch_order(n, seed, 0, shuffle)

    def __len__(self) -> int:
        return -(-self.n // self.batch_size)

    def __getitem__(self, i: int):
        return self.take(self._order[i * self.batch_size:(i + 1) * self.batch_size])

    def on_epoch_end(self) -> None:
        self._epoch += 1
        self._order = epoch_order(self.n, self.seed, self._epoch, self.shuffle)


def batches(source: ClipSource, batch_size: int, shuffle: bool, seed: int):
    """``(inputs, labels)`` batches of a split for ``model.fit``, the clip order of each epoch
    from :func:`epoch_order`: a ``tf.data`` pipeline under TensorFlow (batches made in numpy,
    prefetched), a :class:`Batches` elsewhere. In memory or streamed, the same batches."""
    labels = source.data.labels
    n = len(labels)

    def take(idx):
        return source.take(idx), labels[idx]

    if backend.name() != "tensorflow":
        return Batches(n, batch_size, shuffle, seed, take)
    import tensorflow as tf

    epochs = itertools.count()

    def generate():  # called once per pass over the dataset, i.e. once per epoch
        order = epoch_order(n, seed, next(epochs), shuffle)
        for a in range(0, n, batch_size):
            yield take(order[a:a + batch_size])

    signature = ({name: tf.TensorSpec((None, *shape), tf.as_dtype(dtype))
                  for name, (shape, dtype) in source.specs().items()}, tf.TensorSpec((None,), tf.int32))
    ds = tf.data.Dataset.from_generator(generate, output_signature=signature)
    # the number of batches, so that Keras knows an epoch's steps (and does not warn, each run,
    # that the input "ran out of data" when the first epoch ends)
    return ds.apply(tf.data.experimental.assert_cardinality(-(-n // batch_size))).prefetch(2)


def tensor_dataset(data: SplitData, batch_size: int, shuffle: bool, seed: int,
                   inputs: Mapping[str, tuple[str, str]] | None = None):
    """Batches of a split loaded into memory (:func:`batches`)."""
    return batches(ClipSource(data, inputs or {k: ("", k) for k in data.inputs}), batch_size, shuffle, seed)


def streaming_dataset(readers: Mapping[str, StoreReader], data: SplitData, batch_size: int, shuffle: bool,
                      seed: int, inputs: Mapping[str, tuple[str, str]] = END_TO_END):
    """Batches of a split read from the shards as they are needed (:func:`batches`): the same
    batches as :func:`tensor_dataset` of the loaded split."""
    return batches(ClipSource(data, inputs, readers), batch_size, shuffle, seed)
