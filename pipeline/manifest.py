"""Corpus manifest: one row per clip (its label, speaker, sex and media files), without decoding
media; the corpus kinds (:mod:`avemo.pipeline.corpora`) fill it, every later stage reads it."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from avemo.errors import CorpusError, LfsPointerError
from avemo.fileio import atomic_write
from avemo.pipeline.media import AUDIO_EXTS

LFS_MAGIC = b"version https://git-lfs"
LFS_MAX_BYTES = 1024  # pointer files are ~130 bytes; media never this small
#: ``actor`` is the speaker (any string), ``emotion`` the label's name in the label set and
#: ``label`` its class index; ``sentence`` and ``level`` what the corpus' names say ("" if nothing).
MANIFEST_COLUMNS = ("clip_id", "actor", "sentence", "emotion", "level", "label",
                    "video", "audio", "video_bytes", "audio_bytes", "root", "sex", "media")
#: What a clip (and a corpus) has: ``av`` picture and sound, ``audio`` sound only (a speech
#: corpus), ``video`` picture only (silent video). A corpus is ``av`` when any clip has both, or
#: when its clips are of both kinds; the stages with nothing to do for a corpus do nothing.
MEDIA = ("av", "audio", "video")
#: What a clip of each ``media`` holds.
HOLDS = {"av": ("audio", "video"), "audio": ("audio",), "video": ("video",)}
REJECT_COLUMNS = ("file", "reason")


@dataclass(frozen=True)
class ManifestRow:
    """One clip of the corpus: its id, speaker (``actor``), label (name and class index), its
    video and audio files (relative to ``root``; "" when absent; a video's own audio track serves
    when there is no audio file) with their sizes, ``root``, the corpus folder (relative to the
    manifest's folder in the file, absolute or relative to the working folder once read), and
    the speaker's sex where the corpus says ("Male", "Female", or "")."""

    clip_id: str
    actor: str
    sentence: str
    emotion: str
    level: str
    label: int
    video: str = ""
    audio: str = ""
    video_bytes: int | None = None
    audio_bytes: int | None = None
    root: str = ""
    sex: str = ""
    #: ``av``, ``audio`` or ``video`` (:data:`MEDIA`): what the clip's files hold ("" before the
    #: scan has looked: :func:`with_media`).
    media: str = ""

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

        media = row.get("media") or ("av" if row["video"] else "audio")  # a manifest of avemo <= 0.1
        if media not in MEDIA:
            raise ValueError(f"media {media!r} of clip {row['clip_id']} is none of {', '.join(MEDIA)}")
        return cls(row["clip_id"], row["actor"], row["sentence"], row["emotion"], row["level"],
                   int(row["label"]), row["video"], row["audio"], size(row["video_bytes"]),
                   size(row["audio_bytes"]), row["root"], row["sex"], media)


@dataclass
class ManifestResult:
    """What a scan found: kept rows, rejected files with reasons, excluded clip ids."""

    rows: list[ManifestRow] = field(default_factory=list)
    rejected: list[dict[str, str]] = field(default_factory=list)
    excluded: list[str] = field(default_factory=list)
    #: The corpus kind and its label set (class index = position).
    kind: str = ""
    labels: tuple[str, ...] = ()

    @property
    def actors(self) -> list[str]:
        return sorted({r.actor for r in self.rows})

    @property
    def media(self) -> str:
        """The corpus' media (:func:`corpus_media` of its rows)."""
        return corpus_media(self.rows)


def corpus_media(rows) -> str:
    """``audio`` when every clip is sound only, ``video`` when every clip is picture only, else
    ``av`` (also for no rows)."""
    kinds = {r.media for r in rows}
    return kinds.pop() if len(kinds) == 1 and kinds <= {"audio", "video"} else "av"


def with_media(row: ManifestRow, has_track=None) -> ManifestRow:
    """``row`` with its ``media`` set: a listed audio file is sound; a video without one has sound
    when its container holds an audio track (``has_track(video)``, the path relative to the root,
    probed without decoding)."""
    if row.media:
        return row
    sound = bool(row.audio) or (bool(row.video) and has_track is not None and has_track(row.video))
    return replace(row, media="av" if row.video and sound else "video" if row.video else "audio")

def is_lfs_pointer(path: Path, size: int) -> bool:
    if size > LFS_MAX_BYTES:
        return False
    with open(path, "rb") as fh:
        return fh.read(len(LFS_MAGIC)) == LFS_MAGIC


def lfs_error(root: Path, pointers: list[str]) -> LfsPointerError:
    """The error for a corpus whose media are Git LFS pointer files (cloned without git-lfs)."""
    return LfsPointerError(
        f"{len(pointers)} file(s) under {root} are Git LFS pointer files, not media "
        f"(e.g. {pointers[0]}): the corpus was cloned without git-lfs. "
        f"Run `git lfs install && git lfs pull` inside {root}, then run this again.")


def media_file(root: Path, path: Path, exts: tuple[str, ...], kind: str,
               result: ManifestResult, pointers: list[str]) -> int | None:
    """The size of a corpus file that can be listed; else None, with the reason recorded in
    ``result.rejected`` (or its name in ``pointers`` for an LFS pointer)."""
    rel = path.relative_to(root).as_posix()
    if not path.is_file():
        result.rejected.append({"file": rel, "reason": "not a regular file"})
        return None
    ext = path.suffix
    if ext.lower() not in exts:
        result.rejected.append({"file": rel, "reason": f"stray file: extension {ext or '(none)'} "
                                f"is not a {kind} type ({', '.join(exts)})"})
        return None
    size = path.stat().st_size
    if is_lfs_pointer(path, size):
        pointers.append(rel)
        return None
    return size


def named_audio(root: Path, path: Path, parse, bad_name: str, result: ManifestResult,
                pointers: list[str]) -> tuple[tuple, str, int] | None:
    """(the codes ``parse(stem)`` reads from a speech corpus' file name, its path relative to
    ``root``, its size); None with the reason recorded (a name ``parse`` rejects: ``bad_name``;
    not an audio file; an LFS pointer)."""
    rel = path.relative_to(root).as_posix()
    codes = parse(path.stem)
    if codes is None:
        result.rejected.append({"file": rel, "reason": bad_name})
        return None
    size = media_file(root, path, AUDIO_EXTS, "audio", result, pointers)
    return None if size is None else (codes, rel, size)


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


def labels_path(out: str | Path) -> Path:
    """``FILE.csv`` -> ``FILE.labels.json``: the corpus kind and its label set, in class order."""
    out = Path(out)
    return out.with_name(out.stem + ".labels.json")


def read_labels(manifest: str | Path) -> tuple[str, tuple[str, ...]]:
    """The corpus kind and label set written beside a manifest; CorpusError naming what to do."""
    path = labels_path(manifest)
    try:
        doc = json.loads(path.read_text())
        return str(doc["kind"]), tuple(str(x) for x in doc["labels"])
    except FileNotFoundError:
        raise CorpusError(f"{path} (the label set of {manifest}) does not exist: re-create the "
                          "manifest with `avemo manifest`") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise CorpusError(f"{path} is not a label-set file ({exc}): re-create the manifest with "
                          "`avemo manifest`") from exc


def write_manifest(result: ManifestResult, root: str | Path, out: str | Path) -> tuple[Path, Path]:
    """Write the manifest CSV, its ``.rejected.csv`` (excluded clips are listed there too) and its
    ``.labels.json`` (corpus kind, label set).

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
    atomic_write(labels_path(out), json.dumps({"kind": result.kind, "labels": list(result.labels),
                                               "media": result.media}, indent=1) + "\n")
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
