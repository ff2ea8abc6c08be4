"""Corpus kind ``ravdess``: files named ``MM-VV-EE-II-SS-RR-AA`` anywhere under the root
(``Actor_NN/`` folders as the dataset's archives unpack). Modality 01 audio-visual, 02 video-only,
03 audio-only; vocal channel 01 speech, 02 song; emotion 01-08; intensity; statement;
repetition; actor (odd male, even female). The audio-visual MP4s carry their audio inside; the
audio-only WAVs (``corpus.ravdess_files: audio``, or ``auto`` on a folder of them alone, as the
``Audio_Speech_Actors_01-24`` download unpacks) make a speech corpus."""

from __future__ import annotations

import re
from pathlib import Path

from avemo.errors import CorpusError
from avemo.pipeline.config import CorpusConfig
from avemo.pipeline.manifest import ManifestResult, ManifestRow, lfs_error, media_file
from avemo.pipeline.media import AUDIO_EXTS as ANY_AUDIO

NAME = "ravdess"
#: RAVDESS' eight emotions (codes 01-08), named as CREMA-D names its six.
LABELS = ("NEU", "CAL", "HAP", "SAD", "ANG", "FEA", "DIS", "SUR")
CHANNELS = {"01": "speech", "02": "song"}
_NAME = re.compile(r"^(0[1-3])-(0[12])-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d{2})$")
#: Finds a RAVDESS name inside any text (a CSV cell, a path).
SEARCH = re.compile(r"(?<![0-9-])(0[1-3]-0[12]-0[1-8]-0[12]-0[12]-0[12]-\d{2})(?![0-9-])")
VIDEO_EXTS = (".mp4", ".mov", ".mkv", ".avi")
AUDIO_EXTS = (".wav",)
HELD_OUT_SHARE = 1 / 6


def parse(stem: str) -> tuple[str, ...] | None:
    """(modality, channel, emotion, intensity, statement, repetition, actor) codes, or None."""
    m = _NAME.match(stem)
    return m.groups() if m and m.group(7) != "00" else None


BAD_NAME = "not a RAVDESS name MM-VV-EE-II-SS-RR-AA (modality-channel-emotion-intensity-statement-repetition-actor)"


def files_of(choice: str, modalities: set[str]) -> str:
    """``corpus.ravdess_files`` resolved: ``auto`` is ``av`` where there are audio-visual files,
    else ``video+wav`` where video-only files and audio-only WAVs both are, else ``audio``."""
    if choice != "auto":
        return choice
    return "av" if "01" in modalities else "video+wav" if {"02", "03"} <= modalities else "audio"


def _unused(codes: tuple[str, ...], stem: str, files: str, config: CorpusConfig, video_only: set[str]) -> str | None:
    """Why a RAVDESS file is no clip of this manifest (None: it is one; "": an audio-only WAV that
    is a selected video-only file's audio)."""
    modality, channel = codes[0], codes[1]
    if modality == "03" and files != "audio":
        if files == "video+wav" and "02" + stem[2:] in video_only:
            return ""
        return (f"not used: audio-only file (corpus.ravdess_files is {files}"
                + (")" if files == "av" else ", and no video-only file pairs with it)"))
    if modality != {"av": "01", "video+wav": "02", "audio": "03"}[files]:
        kind = "audio-visual" if modality == "01" else "video-only"
        return f"not used: {kind} file (corpus.ravdess_files is {files})"
    if CHANNELS[channel] not in config.ravdess_channels:
        return f"not used: {CHANNELS[channel]} (corpus.ravdess_channels is {', '.join(config.ravdess_channels)})"
    return None


def find(root: Path, config: CorpusConfig) -> ManifestResult:
    """Every RAVDESS file under ``root``: the clips ``corpus.ravdess_files`` and
    ``corpus.ravdess_channels`` select become rows; every other file is rejected with its reason."""
    if not root.is_dir():
        raise CorpusError(f"corpus root {root} is not a folder: set corpus.root in params.yaml to "
                          "your RAVDESS folder (the one holding Actor_01/ ... Actor_24/)")
    result = ManifestResult(kind=NAME, labels=LABELS)
    pointers: list[str] = []
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    wavs = {p.stem: p for p in files if p.suffix.lower() in AUDIO_EXTS}
    video_only = {p.stem for p in files if p.stem.startswith("02-") and p.suffix.lower() in VIDEO_EXTS}
    chosen = files_of(config.ravdess_files, {c[0] for c in map(parse, (p.stem for p in files)) if c})
    rows: dict[str, ManifestRow] = {}
    for path in files:
        rel = path.relative_to(root).as_posix()
        codes = parse(path.stem)
        reason = BAD_NAME if codes is None else _unused(codes, path.stem, chosen, config, video_only)
        if reason is not None:
            if reason:  # "": an audio-only WAV kept as its video-only file's audio (below)
                result.rejected.append({"file": rel, "reason": reason})
            continue
        modality, _, emotion, intensity, statement, _, actor = codes
        sex = "Male" if int(actor) % 2 else "Female"
        if modality == "03":  # an audio-only clip
            size = media_file(root, path, ANY_AUDIO, "audio", result, pointers)
            if size is not None and path.stem not in rows:
                rows[path.stem] = ManifestRow(path.stem, actor, statement, LABELS[int(emotion) - 1], intensity, -1,
                                              "", rel, None, size, sex=sex, media="audio")
            elif size is not None:
                result.rejected.append({"file": rel, "reason": f"duplicate of {rows[path.stem].audio}"})
            continue
        size = media_file(root, path, VIDEO_EXTS, "video", result, pointers)
        if size is None:
            continue
        audio, audio_bytes = "", None
        if modality == "02":
            wav = wavs.get("03" + path.stem[2:])
            if wav is None:
                result.rejected.append({"file": rel, "reason": f"video-only file without its audio-only "
                                        f"WAV 03{path.stem[2:]}.wav"})
                continue
            audio_bytes = media_file(root, wav, AUDIO_EXTS, "audio", result, pointers)
            if audio_bytes is None:
                continue
            audio = wav.relative_to(root).as_posix()
        if path.stem in rows:
            result.rejected.append({"file": rel, "reason": f"duplicate of {rows[path.stem].video}"})
            continue
        rows[path.stem] = ManifestRow(path.stem, actor, statement, LABELS[int(emotion) - 1], intensity, -1,
                                      rel, audio, size, audio_bytes, sex=sex)
    if pointers:
        raise lfs_error(root, pointers)
    result.rows = [rows[c] for c in sorted(rows)]
    return result


def held_out(n_actors: int) -> int:
    """Actors per held-out split for ``split.*_actors: auto``: a sixth (RAVDESS' 24: 4 and 4)."""
    return max(1, round(n_actors * HELD_OUT_SHARE))


def speaker_of(clip_id: str) -> str | None:
    """The actor of a RAVDESS name, or None when it is none."""
    codes = parse(clip_id)
    return codes[6] if codes else None
