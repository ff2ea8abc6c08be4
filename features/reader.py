"""The store reader: random access by clip id, iteration over a split, loading into memory."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Iterator

import h5py
import numpy as np

from avemo.errors import StoreError
from avemo.features.schema import STORE_META, DatasetSpec, read_index


class StoreReader:
    """Reads a store folder; shard files are opened on first use and kept open.

    Open readers only after forking worker processes, never before (HDF5 handles do not
    survive a fork).
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        meta_path = self.root / STORE_META
        if not meta_path.is_file():
            raise StoreError(f"{self.root} is not an avemo feature store (no {STORE_META}): "
                             "run `avemo extract` to create it")
        self.meta = json.loads(meta_path.read_text())
        index = read_index(self.root)
        self.modality: str = self.meta["modality"]
        self.params: dict = self.meta["params"]
        self.specs = tuple(DatasetSpec(n, tuple(d["shape"]), d["dtype"])
                           for n, d in self.meta["datasets"].items())
        self.shards: dict[str, int] = index["shards"]
        self._clips: dict[str, dict] = index["clips"]
        self._files: dict[str, h5py.File] = {}

    # --- the index ------------------------------------------------------------------------
    @property
    def clip_ids(self) -> list[str]:
        return sorted(self._clips)

    def __len__(self) -> int:
        return len(self._clips)

    def __contains__(self, clip_id: object) -> bool:
        return clip_id in self._clips

    def entry(self, clip_id: str) -> dict:
        try:
            return self._clips[clip_id]
        except KeyError:
            raise StoreError(f"clip {clip_id} is not in store {self.root}") from None

    def spec(self, name: str) -> DatasetSpec:
        for s in self.specs:
            if s.name == name:
                return s
        raise StoreError(f"store {self.root} ({self.modality}) has no dataset {name!r}; "
                         f"it has {', '.join(s.name for s in self.specs)}")

    # --- reading --------------------------------------------------------------------------
    def _file(self, shard: str) -> h5py.File:
        f = self._files.get(shard)
        if f is None:
            path = self.root / shard
            try:
                f = h5py.File(path, "r")
            except OSError as exc:
                raise StoreError(f"shard {path} cannot be opened ({exc}); "
                                 f"run `avemo inspect {self.root} --verify`") from exc
            self._files[shard] = f
        return f

    def _damaged(self, shard: str, what: str, exc: Exception) -> StoreError:
        return StoreError(f"shard {self.root / shard}: {what} cannot be read ({exc}): the file is damaged "
                          f"(its chunk checksums fail). Run `avemo inspect {self.root} --verify`, delete the "
                          "broken shard and re-run the extraction to redo its clips")

    def read(self, clip_id: str, name: str) -> np.ndarray:
        """One dataset of one clip, e.g. ``read(id, 'mfcc') -> (9, 40, 40) float32``.
        StoreError (never damaged values) when the clip's chunk fails its checksum."""
        e = self.entry(clip_id)
        try:
            return self._file(e["shard"])[name][e["row"]]
        except OSError as exc:
            raise self._damaged(e["shard"], f"{clip_id}'s {name}", exc) from exc

    def get(self, clip_id: str, names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """All (or the named) datasets of one clip."""
        return {n: self.read(clip_id, n) for n in (names or [s.name for s in self.specs])}

    def iter(self, clip_ids: Iterable[str], names: Iterable[str] | None = None
             ) -> Iterator[tuple[str, dict[str, np.ndarray]]]:
        """Yield ``(clip_id, arrays)`` for each id in order (a streaming view of a split)."""
        names = list(names or [s.name for s in self.specs])
        for clip_id in clip_ids:
            yield clip_id, self.get(clip_id, names)

    def load(self, clip_ids: list[str], names: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Stack the named datasets of ``clip_ids`` into memory: name -> (N, *shape) array.

        Rows are read shard by shard in file order, straight into the output arrays.
        """
        names = list(names or [s.name for s in self.specs])
        out = {n: np.empty((len(clip_ids), *self.spec(n).shape), self.spec(n).dtype) for n in names}
        by_shard: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, clip_id in enumerate(clip_ids):
            e = self.entry(clip_id)
            by_shard[e["shard"]].append((e["row"], i))
        for shard, pairs in sorted(by_shard.items()):
            f = self._file(shard)
            for n in names:
                ds, dest = f[n], out[n]
                for row, i in sorted(pairs):
                    try:
                        ds.read_direct(dest, np.s_[row], np.s_[i])
                    except OSError as exc:
                        raise self._damaged(shard, f"row {row} of {n} ({clip_ids[i]})", exc) from exc
        return out

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def __enter__(self) -> "StoreReader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
