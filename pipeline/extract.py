"""Running a per-clip extractor over a manifest into a feature store (resumable, parallel).

Serial path first (``jobs=1``: a plain loop); with ``jobs > 1`` or the dask backend, clips run
in worker processes (:mod:`avemo.pipeline.cluster`) that return arrays, and only this (parent) process
writes HDF5, in manifest order, so every backend and ``-j`` gives the same bytes as ``-j 1``.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm import tqdm

from avemo.errors import AvemoError, MediaError
from avemo.features.config import StoreConfig
from avemo.features.schema import LOST, DatasetSpec, face_specs, mfcc_specs
from avemo.features.writer import RunReport, SourceInfo, StoreWriter
from avemo.fileio import file_sha256
from avemo.params import to_dict
from avemo.pipeline import audio, egemaps, faces
from avemo.pipeline.cluster import run_tasks, scratch_dir
from avemo.pipeline.config import EgemapsConfig, FaceConfig, MfccConfig
from avemo.pipeline.detectors import make_detector
from avemo.pipeline.manifest import HOLDS, ManifestRow, corpus_media
from avemo.pipeline.threads import single_threaded_blas

log = logging.getLogger(__name__)
#: The summary's count of stored clips whose face was lost on some sampled frames.
FACE_LOST = "face lost on some frames"



class Extractor(Protocol):
    """A stage's per-clip work: which file to read, and the arrays it makes from it."""

    modality: str
    source_kinds: tuple[str, ...]
    #: What a clip's media must hold for this stage: ``audio`` or ``video``.
    needs: str

    def params(self) -> dict: ...

    def specs(self) -> tuple[DatasetSpec, ...]: ...

    def source(self, row: ManifestRow) -> Path:
        """The file this clip's features come from; MediaError when there is none."""

    def warm_up(self) -> None:
        """One-off costs (e.g. numba compilation) paid once per worker."""

    def process(self, path: Path) -> dict[str, np.ndarray]: ...

    def flag(self, arrays: dict[str, np.ndarray]) -> str | None:
        """What to count about a stored clip's arrays in the run's summary (e.g. a face lost on
        some frames), or None."""


_WARM: set[int] = set()


def _work(extractor: Extractor, clip_id: str, path: Path) -> tuple[str, dict | None, tuple[str, str] | None]:
    """Worker task: arrays, or (kind, reason). Never raises for a bad clip.

    BLAS runs single-threaded in every process: a multi-threaded matrix product sums in
    another order, and the stored bytes must not depend on ``-j``.
    """
    with single_threaded_blas():
        if id(type(extractor)) not in _WARM:
            extractor.warm_up()
            _WARM.add(id(type(extractor)))
        return _process(extractor, clip_id, path)


def _process(extractor: Extractor, clip_id: str, path: Path) -> tuple[str, dict | None, tuple[str, str] | None]:
    try:
        return clip_id, extractor.process(path), None
    except MediaError as exc:
        return clip_id, None, (exc.kind, str(exc))
    except AvemoError as exc:
        return clip_id, None, ("error", str(exc))
    except Exception as exc:  # record-and-continue: one odd file must not stop a corpus run
        return clip_id, None, ("error", f"{path}: {type(exc).__name__}: {exc}")


def run_extraction(rows: list[ManifestRow], out: str | Path, extractor: Extractor,
                   store: StoreConfig = StoreConfig(), jobs: int = 1, force: bool = False,
                   progress: bool = True, backend: str = "local",
                   scheduler: str | None = None) -> RunReport:
    """Extract every manifest row not already stored (same params, same source hash).
    ``backend``/``scheduler``: where the per-clip tasks run (:func:`avemo.pipeline.cluster.run_tasks`).

    A corpus none of whose clips has what the stage needs (faces of a speech corpus, audio of
    silent videos) has nothing to extract: the store is written empty, and the report says why
    (``note``). In a corpus of both, a clip that lacks it is a recorded failure."""
    os.environ.setdefault("NUMBA_CACHE_DIR", str(scratch_dir() / "numba"))
    note = ""
    if rows and not any(extractor.needs in HOLDS[r.media or "av"] for r in rows):
        note = (f"the corpus is {corpus_media(rows)}-only: no clip has {extractor.needs}, nothing to extract "
                f"(the {extractor.modality} store stays empty)")
        rows = []
    report = RunReport(total=len(rows), note=note)
    with StoreWriter(out, extractor.modality, extractor.params(), extractor.specs(),
                     shard_size=store.shard_size, compression=store.compression, force=force) as writer:
        todo: list[tuple[str, Path, SourceInfo]] = []
        for row in tqdm(rows, desc=f"{extractor.modality}: hashing sources", unit="clip",
                        disable=not progress, leave=False):
            clip_id = row.clip_id
            try:
                path = extractor.source(row)
                info = SourceInfo(str(path), path.stat().st_size, file_sha256(path))
            except (MediaError, OSError) as exc:
                kind = getattr(exc, "kind", "missing file")
                listed = (row.source(k) for k in extractor.source_kinds)
                writer.fail(clip_id, str(next((s for s in listed if s is not None), "")), kind, str(exc))
                report.count_failure(kind)
                continue
            if writer.is_current(clip_id, info.sha256):
                report.skipped += 1
                continue
            todo.append((clip_id, path.resolve(), info))  # absolute: workers may run elsewhere
        infos = {c: i for c, _, i in todo}
        room = writer.room_warning(len(todo))
        if room:
            log.warning("%s", room)
        results = run_tasks(_work, ((extractor, c, p) for c, p, _ in todo), jobs, backend, scheduler)
        bar = tqdm(results, total=len(todo), desc=f"{extractor.modality}: extracting", unit="clip",
                   disable=not progress)
        with contextlib.closing(results):  # a write that fails stops the workers at once
            _store_results(bar, writer, extractor, infos, report)
        report.store_clips = len(writer.index["clips"])
    return report


def _store_results(bar, writer: StoreWriter, extractor: Extractor, infos: dict, report: RunReport) -> None:
    """Add each task's arrays to the store (or record its failure), in the tasks' order."""
    for clip_id, arrays, failure in bar:
        if failure is None:
            writer.add(clip_id, arrays, infos[clip_id])
            report.stored += 1
            flag = extractor.flag(arrays)
            if flag:
                report.flagged[flag] += 1
                log.info("%s: %s", clip_id, flag)
        else:
            kind, reason = failure
            writer.fail(clip_id, infos[clip_id].path, kind, reason)
            report.count_failure(kind)
            log.info("%s: %s", clip_id, reason)
        bar.set_postfix(failed=report.failed, refresh=False)


@dataclass(frozen=True)
class _StageExtractor:
    """What the stages share: params with the algorithm version, and the source file rule."""

    config: MfccConfig | FaceConfig | EgemapsConfig
    #: Manifest columns to read from, in order of preference.
    source_kinds: tuple[str, ...] = ()

    def source(self, row: ManifestRow) -> Path:
        """The first listed of the row's ``source_kinds`` files; MediaError when none is listed
        or the listed file is gone."""
        path = next((p for p in (row.source(k) for k in self.source_kinds) if p is not None), None)
        if path is None:
            raise MediaError(f"{row.clip_id}: the manifest lists no {' or '.join(self.source_kinds)} file",
                             kind=f"no {self.source_kinds[0]}")
        if not path.is_file():
            raise MediaError(f"{path}: file does not exist (listed in the manifest)", kind="missing file")
        return path

    def algorithm_version(self) -> int:
        raise NotImplementedError

    def flag(self, arrays: dict[str, np.ndarray]) -> str | None:
        return None

    def params(self) -> dict:
        """The stage's params plus its algorithm version: what a store's contents depend on."""
        return {**to_dict(self.config), "algorithm": self.algorithm_version()}


@dataclass(frozen=True)
class MfccExtractor(_StageExtractor):
    """The MFCC stage's per-clip work: WAV when the manifest has one, else the video's track."""

    source_kinds: tuple[str, ...] = ("audio", "video")
    modality: str = "mfcc"
    needs: str = "audio"

    def algorithm_version(self) -> int:
        return audio.ALGORITHM_VERSION

    def specs(self) -> tuple[DatasetSpec, ...]:
        return mfcc_specs(self.config.shape)

    def warm_up(self) -> None:
        audio.mfcc_windows(np.zeros(self.config.sr // 10, np.float32), self.config)

    def process(self, path: Path) -> dict[str, np.ndarray]:
        return {"mfcc": audio.mfcc_windows(audio.load_audio(path, self.config.sr), self.config)}


@dataclass(frozen=True)
class EgemapsExtractor(_StageExtractor):
    """The classical baseline's per-clip work: openSMILE's eGeMAPS functionals of the clip's audio
    (its WAV when the manifest has one, else the video's track), at ``egemaps.sr`` Hz mono."""

    source_kinds: tuple[str, ...] = ("audio", "video")
    modality: str = "egemaps"
    needs: str = "audio"

    def algorithm_version(self) -> int:
        return egemaps.ALGORITHM_VERSION

    def params(self) -> dict:
        """The stage's params, its algorithm version and openSMILE's version."""
        return {**super().params(), "opensmile": egemaps.opensmile_version()}

    def specs(self) -> tuple[DatasetSpec, ...]:
        return (DatasetSpec("egemaps", (len(egemaps.feature_names(self.config.feature_set)),), "float32"),)

    def warm_up(self) -> None:
        egemaps.egemaps(np.zeros(self.config.sr, np.float32) + 1e-3, self.config.sr, self.config.feature_set)

    def process(self, path: Path) -> dict[str, np.ndarray]:
        y = audio.load_audio(path, self.config.sr)
        return {"egemaps": egemaps.egemaps(y, self.config.sr, self.config.feature_set)}


@dataclass(frozen=True)
class FaceExtractor(_StageExtractor):
    """The face stage's per-clip work, on the clip's video file."""

    source_kinds: tuple[str, ...] = ("video",)
    modality: str = "faces"
    needs: str = "video"

    def algorithm_version(self) -> int:
        return faces.ALGORITHM_VERSION

    def specs(self) -> tuple[DatasetSpec, ...]:
        return face_specs(self.config.n_frames, self.config.size)

    def warm_up(self) -> None:
        make_detector(self.config.detector, self.config.upsample)(np.zeros((100, 100), np.uint8))

    def process(self, path: Path) -> dict[str, np.ndarray]:
        return faces.face_track(path, self.config)

    def flag(self, arrays: dict[str, np.ndarray]) -> str | None:
        """Clips where the face was lost on some frames (their boxes are filled from the
        neighbours; the frames are marked ``lost`` in ``located``)."""
        return FACE_LOST if (arrays["located"] == LOST).any() else None
