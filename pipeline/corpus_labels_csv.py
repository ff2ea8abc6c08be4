"""Corpus kind ``labels-csv``: any folder of recordings plus a CSV of ``path,label,speaker[,sex]``
(a lab's own data; any label names). Paths are relative to the corpus root; a video's audio is
its own track, or a same-named WAV/FLAC beside it; an audio file listed alone is a speech clip
(a corpus of audio files is a speech corpus)."""

from __future__ import annotations

import csv
from pathlib import Path, PurePosixPath

from avemo.errors import CorpusError
from avemo.pipeline.config import CorpusConfig
from avemo.pipeline.manifest import ManifestResult, ManifestRow, lfs_error, media_file
from avemo.pipeline.media import AUDIO_EXTS as AUDIO_FILES

NAME = "labels-csv"
#: The corpus' own labels are the CSV's, sorted (set corpus.labels to fix their order).
LABELS: tuple[str, ...] = ()
REQUIRED = ("path", "label", "speaker")
VIDEO_EXTS = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".flv", ".webm", ".mpg", ".mpeg")
AUDIO_EXTS = (".wav", ".flac")
SEX = {"m": "Male", "male": "Male", "f": "Female", "female": "Female"}
HELD_OUT_SHARE = 1 / 6


def _read(table: Path) -> list[dict[str, str]]:
    if not table.is_file():
        raise CorpusError(f"{table} does not exist: a labels-csv corpus needs a CSV with the columns "
                          f"{','.join(REQUIRED)}[,sex] (corpus.labels_csv, relative to corpus.root)")
    with open(table, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [c.strip().lower() for c in reader.fieldnames or ()]
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise CorpusError(f"{table} lacks the column(s) {', '.join(missing)} (it has {', '.join(columns) or 'none'}): "
                              f"a labels-csv corpus lists path,label,speaker[,sex]")
        return [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k} for row in reader]


def find(root: Path, config: CorpusConfig) -> ManifestResult:
    """One row per CSV line whose media exist; lines with a missing file, an empty label or
    speaker or a repeated path are rejected with the reason."""
    if not root.is_dir():
        raise CorpusError(f"corpus root {root} is not a folder: set corpus.root in params.yaml to the "
                          "folder your labels CSV's paths are relative to")
    table = root / config.labels_csv
    result = ManifestResult(kind=NAME)
    pointers: list[str] = []
    rows: dict[str, ManifestRow] = {}
    for line, entry in enumerate(_read(table), start=2):
        path, label, speaker = entry.get("path", ""), entry.get("label", ""), entry.get("speaker", "")
        where = f"{path or '(no path)'} ({config.labels_csv} line {line})"
        if not (path and label and speaker):
            result.rejected.append({"file": where, "reason": "empty path, label or speaker"})
            continue
        file = root / path
        if not file.exists():
            result.rejected.append({"file": where, "reason": "listed in the CSV but does not exist"})
            continue
        speech = file.suffix.lower() in AUDIO_FILES  # an audio file alone: a speech clip
        size = media_file(root, file, AUDIO_FILES if speech else VIDEO_EXTS, "audio" if speech else "video",
                          result, pointers)
        if size is None:
            continue
        clip_id = PurePosixPath(file.relative_to(root).as_posix()).with_suffix("").as_posix()
        if clip_id in rows:
            result.rejected.append({"file": where, "reason": f"listed twice (clip {clip_id})"})
            continue
        sex = entry.get("sex", "")
        if speech:
            rows[clip_id] = ManifestRow(clip_id, speaker, "", label, "", -1, "", file.relative_to(root).as_posix(),
                                        None, size, sex=SEX.get(sex.lower(), sex), media="audio")
            continue
        audio, audio_bytes = "", None
        for ext in AUDIO_EXTS:
            beside = file.with_suffix(ext)
            if beside.is_file():
                audio_bytes = media_file(root, beside, AUDIO_EXTS, "audio", result, pointers)
                audio = beside.relative_to(root).as_posix() if audio_bytes is not None else ""
                break
        rows[clip_id] = ManifestRow(clip_id, speaker, "", label, "", -1, file.relative_to(root).as_posix(),
                                    audio, size, audio_bytes, sex=SEX.get(sex.lower(), sex))
    if pointers:
        raise lfs_error(root, pointers)
    result.rows = [rows[c] for c in sorted(rows)]
    result.labels = tuple(sorted({r.emotion for r in result.rows}))
    return result


def held_out(n_actors: int) -> int:
    """Actors per held-out split for ``split.*_actors: auto``: a sixth of the speakers, at least one."""
    return max(1, round(n_actors * HELD_OUT_SHARE))


def speaker_of(clip_id: str) -> str | None:
    """Speakers are not in a labels-csv clip id: only the manifest knows them."""
    return None
