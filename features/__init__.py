"""The avemo feature store: HDF5 shards per modality, an index, a writer and a reader.

The public reading API, for notebooks and other projects::

    from avemo.features import open_store

    with open_store("data/store/faces") as store:
        store.clip_ids                                  # sorted clip ids
        frames = store.read("1001_DFA_ANG_XX", "frames")  # (50, 64, 64, 3) uint8
        arrays = store.load(ids, ["frames"])            # {"frames": (N, 50, 64, 64, 3)}

The format is documented in ``docs/architecture.md`` (store schema).
"""

from __future__ import annotations

from pathlib import Path

from avemo.features.reader import StoreReader
from avemo.features.schema import SCHEMA_VERSION, DatasetSpec

__all__ = ["open_store", "StoreReader", "DatasetSpec", "SCHEMA_VERSION"]


def open_store(path: str | Path) -> StoreReader:
    """Open the store folder ``path`` (one modality: faces, mfcc or embeddings) for reading;
    use it as a context manager to close its shard files. StoreError when ``path`` is no store."""
    return StoreReader(path)
