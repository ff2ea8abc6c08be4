"""Corpus kind ``crema-d``: ``VideoFlash/AAAA_SSS_EEE_LL.flv`` with ``AudioWAV/`` beside it
(or ``AudioMP3/`` where a clip has no WAV); label, speaker, sentence and level from the name, sex
from the bundled demographics. ``AudioWAV/`` (or ``AudioMP3/``) alone is a speech corpus."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from avemo.errors import ClipNameError, CorpusError
from avemo.metadata import demographics
from avemo.names import EMOTIONS, parse_clip_name
from avemo.pipeline.config import CorpusConfig
from avemo.pipeline.manifest import ManifestResult, ManifestRow, lfs_error, media_file
from avemo.pipeline.media import AUDIO_EXTS

NAME = "crema-d"
#: The corpus' own labels, in class-index order (docs/architecture.md, data contracts).
LABELS = EMOTIONS
VIDEO_DIR, AUDIO_DIR, MP3_DIR = "VideoFlash", "AudioWAV", "AudioMP3"
VIDEO_EXTS = (".flv", ".mp4", ".avi", ".mkv", ".mov", ".webm")
#: The paper holds out 10 test and 10 validation actors of 91.
PAPER_HELD_OUT = 10


def row_of(clip_id: str, **files: object) -> ManifestRow:
    """The row of a clip named ``clip_id`` (ClipNameError when it is no CREMA-D name), with the
    given ``video``/``audio``/``root`` fields."""
    name = parse_clip_name(clip_id)
    sex = demographics().get(name.actor, {}).get("Sex", "")
    return ManifestRow(name.clip_id, str(name.actor), name.sentence, name.emotion, name.level, name.label,
                       **files, sex=sex)


def find(root: Path, config: CorpusConfig) -> ManifestResult:
    """Scan ``root/VideoFlash``, ``root/AudioWAV`` and ``root/AudioMP3`` (a clip's audio: its WAV,
    else its MP3; an MP3 beside a WAV is not used): rows sorted by clip id; names that do not
    parse and stray files rejected with a reason; LFS pointer files stop the scan."""
    if not root.is_dir():
        raise CorpusError(f"corpus root {root} is not a folder: set corpus.root in params.yaml "
                          "to your CREMA-D checkout (the folder holding VideoFlash/ and AudioWAV/)")
    dirs = [(kind, root / name, exts) for kind, name, exts in
            (("video", VIDEO_DIR, VIDEO_EXTS), ("audio", AUDIO_DIR, AUDIO_EXTS), ("audio", MP3_DIR, AUDIO_EXTS))]
    if not any(d.is_dir() for _, d, _ in dirs):
        raise CorpusError(f"corpus root {root} has none of {VIDEO_DIR}/, {AUDIO_DIR}/, {MP3_DIR}/: "
                          "is this a CREMA-D checkout? (corpus.kind is crema-d)")
    result = ManifestResult(kind=NAME, labels=LABELS)
    clips: dict[str, ManifestRow] = {}
    pointers: list[str] = []
    for kind, folder, exts in dirs:
        if not folder.is_dir():
            continue
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            path = Path(entry.path)
            size = media_file(root, path, exts, kind, result, pointers)
            if size is None:
                continue
            rel = f"{folder.name}/{entry.name}"
            try:
                row = clips.get(parse_clip_name(path.stem).clip_id) or row_of(path.stem)
            except ClipNameError as exc:
                result.rejected.append({"file": rel, "reason": str(exc)})
                continue
            if getattr(row, kind) and folder.name == MP3_DIR and row.audio.startswith(AUDIO_DIR + "/"):
                continue  # the clip's WAV serves
            if getattr(row, kind):
                result.rejected.append({"file": rel, "reason": f"duplicate {kind} for {row.clip_id} "
                                        f"(already have {getattr(row, kind)})"})
                continue
            clips[row.clip_id] = replace(row, **{kind: rel, f"{kind}_bytes": size})
    if pointers:
        raise lfs_error(root, pointers)
    result.rows = [clips[c] for c in sorted(clips)]
    return result


def held_out(n_actors: int) -> int:
    """Actors per held-out split for ``split.*_actors: auto``: the paper's 10, or a sixth of the
    actors in a corpus too small for 10 + 10 + training actors."""
    return PAPER_HELD_OUT if n_actors > 2 * PAPER_HELD_OUT else max(1, round(n_actors / 6))


def speaker_of(clip_id: str) -> str | None:
    """The actor of a CREMA-D clip name, or None when it is none."""
    try:
        return str(parse_clip_name(clip_id).actor)
    except ClipNameError:
        return None
