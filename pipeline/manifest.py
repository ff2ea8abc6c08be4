"""Corpus manifest: one row per clip of a CREMA-D-shaped folder, without decoding media."""

from __future__ import annotations

import csv
import io
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from avemo.errors import ClipNameError, CorpusError, LfsPointerError
from avemo.fileio import atomic_write
from avemo.names import parse_clip_name
from avemo.pipeline.config import ManifestConfig

VIDEO_DIR, AUDIO_DIR = "VideoFlash", "AudioWAV"
VIDEO_EXTS = (".flv", ".mp4", ".avi", ".mkv", ".mov", ".webm")
AUDIO_EXTS = (".wav", ".flac")
LFS_MAGIC = b"version https://git-lfs"
LFS_MAX_BYTES = 1024  # pointer files are ~130 bytes; media never this small
MANIFEST_COLUMNS = ("clip_id", "actor", "sentence", "emotion", "level", "label",
                    "video", "audio", "video_bytes", "audio_bytes", "root")
REJECT_COLUMNS = ("file", "reason")


@dataclass(frozen=True)
class ManifestRow:
    """One clip of the corpus: its parsed name, its video and audio files (relative to
    ``root``; "" when absent) with their sizes, and ``root``, the corpus folder (relative to the
    manifest's folder in the file, absolute or relative to the working folder once read)."""

    clip_id: str
    actor: int
    sentence: str
    emotion: str
    level: str
    label: int
    video: str = ""
    audio: str = ""
    video_bytes: int | None = None
    audio_bytes: int | None = None
    root: str = ""

    @classmethod
    def for_clip(cls, clip_id: str, **files: object) -> "ManifestRow":
        """The row of a clip named ``clip_id`` (parsed; ClipNameError when it is no CREMA-D name),
        with the given ``video``/``audio``/``root`` fields."""
        name = parse_clip_name(clip_id)
        return cls(name.clip_id, name.actor, name.sentence, name.emotion, name.level, name.label, **files)

    def source(self, kind: str) -> Path | None:
        """The path of this clip's ``video`` or ``audio`` file, or None when it has none."""
        rel = getattr(self, kind)
        return Path(self.root) / rel if rel else None

    def to_csv(self) -> dict[str, object]:
        return {k: ("" if v is None else v) for k, v in asdict(self).items()}

    @classmethod
    def from_csv(cls, row: dict[str, str]) -> "ManifestRow":
        def size(v: str) -> int | None:
            return int(v) if v else None

        return cls(row["clip_id"], int(row["actor"]), row["sentence"], row["emotion"], row["level"],
                   int(row["label"]), row["video"], row["audio"], size(row["video_bytes"]),
                   size(row["audio_bytes"]), row["root"])


@dataclass
class ManifestResult:
    """What a scan found: kept rows, rejected files with reasons, excluded clip ids."""

    rows: list[ManifestRow] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)

    @property
    def actors(self) -> list[int]:
        return sorted({r.actor for r in self.rows})


def _is_lfs_pointer(path: Path, size: int) -> bool:
    if size > LFS_MAX_BYTES:
        return False
    with open(path, "rb") as fh:
        return fh.read(len(LFS_MAGIC)) == LFS_MAGIC


def scan_corpus(root: str | Path, config: ManifestConfig = ManifestConfig()) -> ManifestResult:
    """Scan ``root/VideoFlash`` and ``root/AudioWAV`` into manifest rows sorted by clip id.

    Names that do not parse and stray files are rejected with a reason; clips named in
    ``config.exclude`` are left out and listed; LFS pointer files stop the scan.
    """
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(f"corpus root {root} is not a folder: set corpus.root in params.yaml "
                          "to your CREMA-D checkout (the folder holding VideoFlash/ and AudioWAV/)")
    dirs = [(kind, root / name, exts) for kind, name, exts in
            (("video", VIDEO_DIR, VIDEO_EXTS), ("audio", AUDIO_DIR, AUDIO_EXTS))]
    if not any(d.is_dir() for _, d, _ in dirs):
        raise CorpusError(f"corpus root {root} has neither {VIDEO_DIR}/ nor {AUDIO_DIR}/: "
                          "is this a CREMA-D checkout?")
    result = ManifestResult()
    clips: dict[str, ManifestRow] = {}
    pointers: list[str] = []
    for kind, folder, exts in dirs:
        if not folder.is_dir():
            continue
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            rel = f"{folder.name}/{entry.name}"
            if not entry.is_file():
                result.rejected.append({"file": rel, "reason": "not a regular file"})
                continue
            stem, ext = os.path.splitext(entry.name)
            if ext.lower() not in exts:
                result.rejected.append({"file": rel, "reason": f"stray file: extension {ext or '(none)'} "
                                        f"is not a {kind} type ({', '.join(exts)})"})
                continue
            size = entry.stat().st_size
            if _is_lfs_pointer(Path(entry.path), size):
                pointers.append(rel)
                continue
            try:
                name = parse_clip_name(stem)
            except ClipNameError as exc:
                result.rejected.append({"file": rel, "reason": str(exc)})
                continue
            row = clips.setdefault(name.clip_id, ManifestRow(name.clip_id, name.actor, name.sentence,
                                                             name.emotion, name.level, name.label))
            if getattr(row, kind):
                result.rejected.append({"file": rel, "reason": f"duplicate {kind} for {name.clip_id} "
                                        f"(already have {getattr(row, kind)})"})
                continue
            clips[name.clip_id] = replace(row, **{kind: rel, f"{kind}_bytes": size})
    if pointers:
        raise LfsPointerError(
            f"{len(pointers)} file(s) under {root} are Git LFS pointer files, not media "
            f"(e.g. {pointers[0]}): the corpus was cloned without git-lfs. "
            f"Run `git lfs install && git lfs pull` inside {root}, then run this again.")
    excluded = set(config.exclude)
    for clip_id in sorted(clips):
        if clip_id in excluded:
            result.excluded.append(clip_id)
        else:
            result.rows.append(clips[clip_id])
    return result


def _write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, object]]) -> None:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, text.getvalue())


def rejected_path(out: str | Path) -> Path:
    """``FILE.csv`` -> ``FILE.rejected.csv``."""
    out = Path(out)
    return out.with_name(out.stem + ".rejected" + (out.suffix or ".csv"))


def write_manifest(result: ManifestResult, root: str | Path, out: str | Path) -> tuple[Path, Path]:
    """Write the manifest CSV and its ``.rejected.csv`` (excluded clips are listed there too).

    The ``root`` column holds the corpus folder relative to the manifest's own folder (or
    absolute), so a checkout can move as a whole.
    """
    out = Path(out)
    root = Path(root)
    rel_root = root.as_posix() if root.is_absolute() else \
        Path(os.path.relpath(root.resolve(), out.parent.resolve())).as_posix()
    rows = [replace(r, root=rel_root).to_csv() for r in result.rows]
    rejected = list(result.rejected) + [
        {"file": clip_id, "reason": "excluded by manifest.exclude (documented broken clip)"}
        for clip_id in result.excluded]
    _write_csv(out, MANIFEST_COLUMNS, rows)
    rej = rejected_path(out)
    _write_csv(rej, REJECT_COLUMNS, rejected)
    return out, rej


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Read a manifest CSV written by :func:`write_manifest`; checks its columns."""
    path = Path(path)
    if not path.is_file():
        raise CorpusError(f"manifest {path} does not exist: run `avemo manifest` first")
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = set(MANIFEST_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise CorpusError(f"manifest {path} lacks column(s) {', '.join(sorted(missing))}: "
                              "re-create it with `avemo manifest`")
        try:
            rows = [ManifestRow.from_csv(r) for r in reader]
        except (ValueError, TypeError) as exc:
            raise CorpusError(f"manifest {path} has a malformed row ({exc}): re-create it with "
                              "`avemo manifest`") from exc
    base = path.parent
    return [r if os.path.isabs(r.root) else replace(r, root=str(base / r.root)) for r in rows]
