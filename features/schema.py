"""The store format (public, versioned): file names, dataset names, shapes and dtypes.

A store is a folder per modality::

    store.json      schema version, modality, stage params, dataset specs, library versions
    index.json      clip id -> shard, row, source sha256 and size; shard -> rows and the
                    SHA-256 of the published file (``shard_sha256``)
    failures.csv    clip_id, source, kind, reason of clips that could not be processed
    writer.lock     while a writer runs: its OS lock and pid (one writer per store; removed
                    when it finishes, and a dead writer's lock is released by the kernel)
    shard-00000.h5  HDF5: clip_id (N,) str, source_sha256 (N,) str, source_bytes (N,) int64,
    shard-00001.h5  and the modality's datasets, chunked one clip per chunk; every chunk of
                    fixed-size data carries HDF5's Fletcher-32 checksum (any HDF5 reader checks it)

Shards written before checksums (avemo 0.1.0 stores) have neither; they stay readable.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemo.errors import StoreError

SCHEMA_VERSION = 1
STORE_META = "store.json"
INDEX_FILE = "index.json"
FAILURES_FILE = "failures.csv"
LOCK_FILE = "writer.lock"
SHARD_PREFIX = "shard-"
SHARD_SUFFIX = ".h5"
PARTIAL_SUFFIX = ".partial"
FAILURE_COLUMNS = ("clip_id", "source", "kind", "reason")
#: The HDF5 filter that checksums every chunk of every dataset in a shard.
CHUNK_CHECKSUM = "fletcher32"
#: Per-shard bookkeeping datasets, beside the modality's own.
BOOKKEEPING = ("clip_id", "source_sha256", "source_bytes")


@dataclass(frozen=True)
class DatasetSpec:
    """One per-clip array of a modality: its name, per-clip shape and dtype."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    def to_dict(self) -> dict:
        return {"shape": list(self.shape), "dtype": self.dtype}

    @property
    def nbytes(self) -> int:
        """Bytes of one clip's array."""
        return math.prod(self.shape) * np.dtype(self.dtype).itemsize


def mfcc_specs(shape: tuple[int, int, int]) -> tuple[DatasetSpec, ...]:
    """MFCC store: ``mfcc`` (windows, time, coefficients) float32 per clip."""
    return (DatasetSpec("mfcc", tuple(shape), "float32"),)


#: How each frame's face box was found: the faces store's ``located`` codes (index = code).
#: ``lost``: searched (tracking and a detection), no face; its box is filled from the nearest
#: located frames and the clip is counted as having lost the face. ``interpolated``: not
#: searched, between two located frames that agree (a still face). ``tracked``: found by
#: template tracking. ``detected``: found by the face detector.
LOCATED = ("lost", "interpolated", "tracked", "detected")
LOST, INTERPOLATED, TRACKED, DETECTED = range(len(LOCATED))


def face_specs(n_frames: int, size: int) -> tuple[DatasetSpec, ...]:
    """Faces store: RGB crops, boxes in source pixels (x0, y0, x1, y1), detection flags, and per
    frame how its box was found (:data:`LOCATED` codes; stores of face algorithm 4 and older lack it)."""
    return (DatasetSpec("frames", (n_frames, size, size, 3), "uint8"),
            DatasetSpec("boxes", (n_frames, 4), "float32"),
            DatasetSpec("detected", (n_frames,), "bool"),
            DatasetSpec("located", (n_frames,), "uint8"))


def shard_name(number: int) -> str:
    return f"{SHARD_PREFIX}{number:05d}{SHARD_SUFFIX}"


def canonical_json(data: object) -> str:
    """JSON with sorted keys, so equal params give equal bytes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose output ends up in a store."""
    import importlib.metadata as md

    out = {}
    for dist in ("avemo", "numpy", "librosa", "soxr", "av", "dlib-bin", "opencv-python-headless", "h5py"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            continue
    return out


def read_index(root: str | Path) -> dict:
    """A store's ``index.json`` (an empty index where there is none yet); StoreError naming the
    file and what to do when it is damaged. Every reader of the index goes through here."""
    path = Path(root) / INDEX_FILE
    if not path.is_file():
        return {"shards": {}, "clips": {}, "shard_sha256": {}}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(doc.get("shards"), dict) or not isinstance(doc.get("clips"), dict):
            raise ValueError("no 'shards' and 'clips' tables")
    except (ValueError, AttributeError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path} is damaged ({exc}): run `avemo inspect {Path(root)} --verify`, or re-run the "
                         "extraction (it re-indexes the published shards)") from exc
    doc.setdefault("shard_sha256", {})
    return doc
