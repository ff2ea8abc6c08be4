"""The store writer: appends clips to HDF5 shards, publishing each shard atomically.

A shard is written as ``shard-NNNNN.h5.partial`` and renamed to its final name only when
complete (flushed and fsynced, :func:`avemo.fileio.publish`); the index is rewritten atomically after each publish. A crash
or ``kill -9`` therefore leaves at most a ``.partial`` file, which the next run deletes and
redoes. One writer per store: a writer holds an OS lock on the store (:class:`StoreLock`), and a
second one stops at once naming the first; readers never take it. A write the system refuses
(disk full, quota, file size limit) abandons the open shard and raises :class:`StoreWriteError`;
what was published stays as it was. Only the parent process writes HDF5.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import logging
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import h5py
import numpy as np

from avemo.errors import StoreError, StoreParamsError, StoreWriteError
from avemo.features.lock import StoreLock
from avemo.features.schema import (CHUNK_CHECKSUM, FAILURE_COLUMNS, FAILURES_FILE, INDEX_FILE, LOCK_FILE,
                                   PARTIAL_SUFFIX, SCHEMA_VERSION, SHARD_PREFIX, SHARD_SUFFIX, STORE_META,
                                   DatasetSpec, canonical_json, library_versions, read_index, shard_name)
from avemo.fileio import TEMP_MARK, atomic_write, file_sha256, publish

log = logging.getLogger(__name__)
STR = h5py.string_dtype("utf-8")
#: errno values that mean "no room": the run cannot go on until space is made.
NO_ROOM = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NO_ROOM_TEXT = ("No space left", "Disk quota", "File too large")


def is_no_room(exc: BaseException) -> bool:
    """Whether an OSError (also HDF5's, which carries the C errno only in its text) means the
    disk, a quota or the file size limit is full."""
    return getattr(exc, "errno", None) in NO_ROOM or any(t in str(exc) for t in _NO_ROOM_TEXT)


@dataclass(frozen=True)
class SourceInfo:
    """The file a clip's features were computed from: path, size and SHA-256 of its bytes."""

    path: str
    size: int
    sha256: str


def _params_diff(old: Mapping, new: Mapping) -> str:
    keys = sorted(set(old) | set(new))
    return ", ".join(f"{k}: {old.get(k, '(unset)')!r} -> {new.get(k, '(unset)')!r}"
                     for k in keys if old.get(k) != new.get(k))


def scan_shard(path: Path) -> tuple[list[str], list[str], list[int]]:
    """(clip ids, sha256s, sizes) of a published shard; StoreError naming it when unreadable."""
    try:
        with h5py.File(path, "r") as f:
            if not f.attrs.get("complete", False):
                raise StoreError(f"{path} is not marked complete")
            ids = [s.decode() if isinstance(s, bytes) else s for s in f["clip_id"][()]]
            shas = [s.decode() if isinstance(s, bytes) else s for s in f["source_sha256"][()]]
            sizes = [int(x) for x in f["source_bytes"][()]]
    except (OSError, KeyError) as exc:
        raise StoreError(f"shard {path} cannot be read ({exc}): delete it and re-run the "
                         "extraction to redo its clips") from exc
    return ids, shas, sizes


@dataclass
class RunReport:
    """What one run that fills a store did (extraction, embedding): counts, and the failures
    it recorded in ``failures.csv``."""

    total: int = 0
    stored: int = 0
    skipped: int = 0
    failed: int = 0
    failures_by_kind: Counter = field(default_factory=Counter)
    store_clips: int = 0
    #: Stored clips with something worth knowing (e.g. a face lost on some frames), by what.
    flagged: Counter = field(default_factory=Counter)
    #: Why the run had nothing to do ("": it had clips to look at).
    note: str = ""

    def count_failure(self, kind: str) -> None:
        self.failed += 1
        self.failures_by_kind[kind] += 1

    def to_dict(self) -> dict:
        return {"total": self.total, "stored": self.stored, "skipped": self.skipped,
                "failed": self.failed, "store_clips": self.store_clips,
                "failures_by_kind": dict(sorted(self.failures_by_kind.items())),
                "flagged": dict(sorted(self.flagged.items())), **({"note": self.note} if self.note else {})}


class StoreWriter:
    """Context manager that adds clips to a store folder, resuming what is already there.

    ``params`` are the stage's feature params: a store written with other params is refused
    (:class:`StoreParamsError`) unless ``force``, which deletes it first.
    """

    def __init__(self, root: str | Path, modality: str, params: Mapping, specs: tuple[DatasetSpec, ...],
                 shard_size: int = 500, compression: str = "none", force: bool = False):
        self.root = Path(root)
        self.modality = modality
        self.params = json.loads(canonical_json(dict(params)))
        self.specs = specs
        self.shard_size = shard_size
        self.compression = None if compression == "none" else compression
        self.force = force
        self.index: dict = {"shards": {}, "clips": {}, "shard_sha256": {}}
        self.failures: dict[str, dict[str, str]] = {}
        self._file: h5py.File | None = None
        self._lock: StoreLock | None = None
        self._rows = 0
        self._name = ""
        self.added = 0

    # --- opening -------------------------------------------------------------------------
    def _meta(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "modality": self.modality, "params": self.params,
                "datasets": {s.name: s.to_dict() for s in self.specs}}

    def __enter__(self) -> "StoreWriter":
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = StoreLock(self.root).acquire()  # before anything in the store is read or written
        try:
            return self._open()
        except BaseException:
            self._lock.release()
            raise

    def _open(self) -> "StoreWriter":
        meta_path = self.root / STORE_META
        if meta_path.exists():
            old = json.loads(meta_path.read_text())
            mine = self._meta()
            if any(old.get(k) != mine[k] for k in mine):
                if not self.force:
                    what = _params_diff(old.get("params", {}), mine["params"]) or \
                        f"schema/modality/datasets differ ({old.get('modality')} v{old.get('schema_version')})"
                    raise StoreParamsError(
                        f"store {self.root} was written with other {self.modality} params ({what}); "
                        "refusing to mix them. Re-run with --force to rebuild it, or choose another --out")
                log.warning("store %s: params changed, rebuilding (--force)", self.root)
                self._wipe()
        elif any(self.root.glob(f"{SHARD_PREFIX}*")):
            raise StoreError(f"{self.root} holds shards but no {STORE_META}: not an avemo store "
                             "(or a broken one); choose another --out or delete it")
        for partial in self.root.glob(f"*{PARTIAL_SUFFIX}"):
            log.warning("removing %s left by an interrupted run; its clips are redone", partial.name)
            partial.unlink()
        for stale in self.root.glob(f"*{TEMP_MARK}*"):  # a temporary file of a killed writer (we hold the lock)
            stale.unlink()
        if not meta_path.exists():
            meta = dict(self._meta(), versions=library_versions())
            try:
                atomic_write(meta_path, json.dumps(meta, indent=1, sort_keys=True) + "\n")
            except OSError as exc:
                raise self._refused(exc, f"creating {meta_path}") from exc
        self.index = self._reconcile(read_index(self.root))
        self.failures = self._read_failures()
        return self

    def _wipe(self) -> None:
        for p in self.root.iterdir():
            if p.name == LOCK_FILE:  # ours: held until the run ends
                continue
            if p.is_dir():
                shutil.rmtree(p)
            else:
                p.unlink()

    def _reconcile(self, index: dict) -> dict:
        """Bring the index in line with the published shards on disk (after a crash)."""
        on_disk = sorted(p.name for p in self.root.glob(f"{SHARD_PREFIX}*{SHARD_SUFFIX}"))
        shards = {n: r for n, r in index.get("shards", {}).items() if n in on_disk}
        digests = {n: d for n, d in index.get("shard_sha256", {}).items() if n in shards}
        clips = {c: e for c, e in index.get("clips", {}).items() if e["shard"] in shards}
        for name in on_disk:
            if name in shards:
                continue
            ids, shas, sizes = scan_shard(self.root / name)
            shards[name] = len(ids)
            digests[name] = file_sha256(self.root / name)  # published by a run that died before its index
            for row, (clip, sha, size) in enumerate(zip(ids, shas, sizes)):
                clips[clip] = {"shard": name, "row": row, "sha256": sha, "bytes": size}
        return {"shards": dict(sorted(shards.items())), "clips": clips, "shard_sha256": digests}

    def _read_failures(self) -> dict[str, dict[str, str]]:
        path = self.root / FAILURES_FILE
        if not path.exists():
            return {}
        with open(path, newline="", encoding="utf-8") as fh:
            return {r["clip_id"]: r for r in csv.DictReader(fh)}

    # --- queries --------------------------------------------------------------------------
    def is_current(self, clip_id: str, sha256: str) -> bool:
        """True when the clip is stored from a source with this hash (so it can be skipped)."""
        entry = self.index["clips"].get(clip_id)
        return entry is not None and entry["sha256"] == sha256

    def room_warning(self, n_clips: int) -> str | None:
        """A warning when ``n_clips`` more clips (uncompressed) would not fit on the store's disk,
        else None. The run still starts: it stops cleanly when the disk fills."""
        need = n_clips * sum(spec.nbytes for spec in self.specs)
        free = shutil.disk_usage(self.root).free
        if need <= free:
            return None
        return (f"{self.root}: {n_clips} clips need about {need / 1e6:,.0f} MB "
                f"{'before compression ' if self.compression else ''}and the disk has {free / 1e6:,.0f} MB "
                "free; the run stops when the disk is full (published shards are kept: free space and "
                "re-run to resume)")

    # --- writing --------------------------------------------------------------------------
    def _open_shard(self) -> None:
        numbers = [int(n[len(SHARD_PREFIX):-len(SHARD_SUFFIX)]) for n in self.index["shards"]]
        self._name = shard_name(max(numbers, default=-1) + 1)
        path = self.root / (self._name + PARTIAL_SUFFIX)
        # No track_order: it adds timestamped v2 object headers. No chunk cache: each row is one
        # whole chunk written once, and without a cache a refused write (full disk) fails in the
        # write itself instead of later, when HDF5 evicts the chunk (where h5py only prints it).
        f = h5py.File(path, "w", rdcc_nbytes=0)
        f.attrs["schema_version"] = SCHEMA_VERSION
        f.attrs["modality"] = self.modality
        f.attrs["params"] = canonical_json(self.params)
        f.attrs["versions"] = canonical_json(library_versions())
        f.attrs["complete"] = False
        # Every chunk of fixed-size data checksummed: a flipped byte fails its read. (HDF5 filters
        # cannot apply to variable-length strings; the clip ids are checked against the index.)
        checked = {CHUNK_CHECKSUM: True}
        f.create_dataset("clip_id", shape=(0,), maxshape=(None,), dtype=STR, chunks=(256,))
        f.create_dataset("source_sha256", shape=(0,), maxshape=(None,), dtype=STR, chunks=(256,))
        f.create_dataset("source_bytes", shape=(0,), maxshape=(None,), dtype="int64", chunks=(256,), **checked)
        for spec in self.specs:
            f.create_dataset(spec.name, shape=(0, *spec.shape), maxshape=(None, *spec.shape),
                             dtype=spec.dtype, chunks=(1, *spec.shape), compression=self.compression, **checked)
        self._file, self._rows = f, 0

    def add(self, clip_id: str, arrays: Mapping[str, np.ndarray], source: SourceInfo) -> None:
        """Append one clip; its arrays must match the specs exactly (shape and dtype)."""
        for spec in self.specs:
            a = arrays.get(spec.name)
            if a is None or tuple(a.shape) != spec.shape or a.dtype != np.dtype(spec.dtype):
                got = None if a is None else f"{a.shape} {a.dtype}"
                raise StoreError(f"clip {clip_id}: dataset {spec.name!r} must be {spec.shape} "
                                 f"{spec.dtype}, got {got}")
        try:
            if self._file is None:
                self._open_shard()
            f, n = self._file, self._rows
            for name in (*(s.name for s in self.specs), *("clip_id", "source_sha256", "source_bytes")):
                f[name].resize(n + 1, axis=0)
            for spec in self.specs:
                f[spec.name][n] = arrays[spec.name]
            f["clip_id"][n] = clip_id
            f["source_sha256"][n] = source.sha256
            f["source_bytes"][n] = source.size
        except (OSError, RuntimeError) as exc:  # h5py raises either for a failed write
            raise self._abandon(exc) from exc
        self._rows = n + 1  # the row counts only once every dataset holds it
        self.index["clips"][clip_id] = {"shard": self._name, "row": n, "sha256": source.sha256,
                                        "bytes": source.size, "source": source.path}
        self.failures.pop(clip_id, None)
        self.added += 1
        if self._rows >= self.shard_size:
            self.publish()

    def fail(self, clip_id: str, source: str, kind: str, reason: str) -> None:
        """Record a clip that could not be processed (kept until it succeeds)."""
        self.failures[clip_id] = {"clip_id": clip_id, "source": source, "kind": kind, "reason": reason}

    def publish(self) -> None:
        """Close the current shard and give it its final name (no-op when none is open)."""
        if self._file is None:
            return
        f, rows, name = self._file, self._rows, self._name
        partial = self.root / (name + PARTIAL_SUFFIX)
        try:
            for ds in f.values():
                if ds.shape[0] != rows:  # a row interrupted half-way is dropped
                    ds.resize(rows, axis=0)
            f.attrs["complete"] = True
            f.close()  # HDF5 writes its metadata here: a full disk can show now
            self._file = None
            if rows == 0:
                partial.unlink()
                return
            digest = file_sha256(partial)
            publish(partial, self.root / name)
        except (OSError, RuntimeError) as exc:  # h5py raises either for a failed write
            raise self._abandon(exc) from exc
        self.index["shards"][name] = rows
        self.index["shard_sha256"][name] = digest
        # Should this fail, the shard is published all the same and the next run indexes it.
        self._save_bookkeeping(f"after publishing {name} (the shard is kept and indexed by the next run)")

    def _abandon(self, exc: OSError) -> StoreWriteError:
        """Give up the open shard after a refused write: close and delete the ``.partial`` file,
        forget its clips (they are redone by the next run) and say what happened."""
        name, rows = self._name, self._rows
        partial = self.root / (name + PARTIAL_SUFFIX)
        if self._file is not None:
            try:
                self._file.close()
            except Exception:  # noqa: BLE001 - the first error is the one to report
                # HDF5 keeps a file it could not flush open (and retries at exit, where a failure
                # crashes the interpreter): free the partial's space and close it for good.
                try:
                    os.truncate(partial, 0)
                    self._file.close()
                except Exception:  # noqa: BLE001
                    pass
            self._file = None
        partial.unlink(missing_ok=True)
        for clip in [c for c, e in self.index["clips"].items() if e["shard"] == name]:
            del self.index["clips"][clip]
            self.added -= 1
        self._rows = 0
        return self._refused(exc, f"writing {partial} (its {rows} clip(s) are not kept and are redone "
                             "by the next run)")

    @staticmethod
    def _reason(exc: BaseException) -> str:
        """The system's words for a refused write, without HDF5's long error-stack details."""
        text = str(exc).split(" (", 1)[0].strip()
        code = getattr(exc, "errno", None)
        if code:
            text = text.replace(f"[Errno {code}] ", "")
            return os.strerror(code) if text == os.strerror(code) else f"{os.strerror(code)} ({text})"
        return text or type(exc).__name__

    def _refused(self, exc: OSError, what: str) -> StoreWriteError:
        published = sum(self.index["shards"].values())
        kept = f"the {len(self.index['shards'])} published shard(s) ({published} clips) are kept"
        if is_no_room(exc):
            return StoreWriteError(f"no room left on the disk of {self.root} while {what}: {self._reason(exc)}. Nothing "
                                   f"already published is lost: {kept}. Free space (or choose an --out on "
                                   "a disk with room) and re-run the same command: it resumes.")
        return StoreWriteError(f"the system refused a write to {self.root} while {what}: {self._reason(exc)}. {kept}; "
                               "fix the cause and re-run the same command to resume.")

    def _save_bookkeeping(self, when: str) -> None:
        """Rewrite the index and failures.csv; a refused write becomes a StoreWriteError."""
        try:
            self._write_index()
            self._write_failures()
        except OSError as exc:
            raise self._refused(exc, f"updating the index of {self.root} {when}".rstrip()) from exc

    def _write_index(self) -> None:
        doc = {"schema_version": SCHEMA_VERSION, "modality": self.modality,
               "shards": dict(sorted(self.index["shards"].items())),
               "shard_sha256": dict(sorted(self.index["shard_sha256"].items())),
               "clips": dict(sorted(self.index["clips"].items()))}
        atomic_write(self.root / INDEX_FILE, json.dumps(doc, indent=0, sort_keys=True) + "\n")

    def _write_failures(self) -> None:
        text = io.StringIO()
        w = csv.DictWriter(text, fieldnames=FAILURE_COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(self.failures[c] for c in sorted(self.failures))
        atomic_write(self.root / FAILURES_FILE, text.getvalue())

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._close(exc)
        finally:
            self._lock.release()

    def _close(self, exc: BaseException | None) -> None:
        if isinstance(exc, StoreWriteError):
            # The open shard is gone and the disk refuses writes: leave the files as they are
            # (the index lists what was published; a shard published after it is re-indexed by
            # the next run).
            return
        # Rows already in the open shard are complete, also on Ctrl-C: publish them.
        self.publish()
        self._save_bookkeeping("")
