"""Corpus kind ``tess``: the Toronto Emotional Speech Set, 2,800 files named
``OAF_word_emotion.wav`` and ``YAF_word_emotion.wav`` (two speakers, an older and a younger
woman, each saying "Say the word ..." with 200 words in seven emotions: angry, disgust, fear,
happy, neutral, ps (pleasant surprise), sad). Distributions lay the files out in different
folders (one per speaker and emotion, or one flat folder), so they are found by name anywhere
below the root. Speech only (24.4 kHz mono)."""

from __future__ import annotations

import re
from pathlib import Path

from avemo.errors import CorpusError
from avemo.pipeline.config import CorpusConfig
from avemo.pipeline.manifest import ManifestResult, ManifestRow, lfs_error, named_audio

NAME = "tess"
#: TESS' emotion words -> label names (as CREMA-D names its six; SUR: TESS' pleasant surprise).
EMOTIONS = {"angry": "ANG", "disgust": "DIS", "fear": "FEA", "happy": "HAP", "neutral": "NEU",
            "ps": "SUR", "sad": "SAD"}
LABELS = tuple(EMOTIONS.values())
#: Both TESS speakers are women (aged 26 and 64).
SPEAKERS = {"OAF": "Female", "YAF": "Female"}
_NAME = re.compile(r"^(OAF|YAF)_([A-Za-z]+)_(angry|disgust|fear|happy|neutral|ps|sad)$", re.IGNORECASE)
BAD_NAME = "not a TESS name OAF_word_emotion / YAF_word_emotion (emotion: " + ", ".join(EMOTIONS) + ")"


def parse(stem: str) -> tuple[str, str, str] | None:
    """(speaker, word, emotion word) of a TESS name (case as the corpus spells it), or None."""
    m = _NAME.match(stem)
    return (m.group(1).upper(), m.group(2).lower(), m.group(3).lower()) if m else None


def find(root: Path, config: CorpusConfig) -> ManifestResult:
    """Every file below ``root``: TESS names become rows (clip id: the name), other files are
    rejected with the reason; the same name twice (a distribution's copy) is rejected as a duplicate."""
    if not root.is_dir():
        raise CorpusError(f"corpus root {root} is not a folder: set corpus.root in params.yaml to your "
                          "TESS folder (any layout: files OAF_word_emotion.wav are found below it)")
    result = ManifestResult(kind=NAME, labels=LABELS)
    pointers: list[str] = []
    rows: dict[str, ManifestRow] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        found = named_audio(root, path, parse, BAD_NAME, result, pointers)
        if found is None:
            continue
        (speaker, word, emotion), rel, size = found
        clip_id = f"{speaker}_{word}_{emotion}"
        if clip_id in rows:
            result.rejected.append({"file": rel, "reason": f"duplicate of {rows[clip_id].audio} (clip {clip_id})"})
            continue
        rows[clip_id] = ManifestRow(clip_id, speaker, word, EMOTIONS[emotion], "", -1, "", rel, None, size,
                                    sex=SPEAKERS[speaker], media="audio")
    if pointers:
        raise lfs_error(root, pointers)
    result.rows = [rows[c] for c in sorted(rows)]
    return result


def held_out(n_actors: int) -> int:
    """One test and one validation speaker: TESS' two speakers cannot make a speaker-independent
    split (a third is needed for training); it serves as a cross-corpus test set."""
    return 1


def speaker_of(clip_id: str) -> str | None:
    codes = parse(clip_id)
    return codes[0] if codes else None
