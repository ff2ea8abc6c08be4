"""Corpus kind ``emodb``: the Berlin Database of Emotional Speech (EMO-DB), 535 files named
``SSTTTEV.wav`` in ``wav/``: speaker SS (03, 08-16), text TTT (a01-a05, b01-b10), emotion letter
E (German initials: W Wut anger, L Langeweile boredom, E Ekel disgust, A Angst fear, F Freude
happiness, T Trauer sadness, N neutral), version letter V. Speech only (16 kHz mono)."""

from __future__ import annotations

import re
from pathlib import Path

from avemo.errors import CorpusError
from avemo.pipeline.config import CorpusConfig
from avemo.pipeline.manifest import ManifestResult, ManifestRow, lfs_error, named_audio

NAME = "emodb"
#: EMO-DB's emotion letters, in the order its documentation lists them.
LETTERS = {"W": "ANG", "L": "BOR", "E": "DIS", "A": "FEA", "F": "HAP", "T": "SAD", "N": "NEU"}
#: The corpus' own labels, in class-index order (named as CREMA-D names its six; BOR: boredom).
LABELS = tuple(LETTERS.values())
#: The ten speakers' sexes, from the corpus' documentation (Burkhardt et al., Interspeech 2005).
SEX = {"03": "Male", "08": "Female", "09": "Female", "10": "Male", "11": "Male", "12": "Male",
       "13": "Female", "14": "Female", "15": "Male", "16": "Female"}
_NAME = re.compile(r"^(\d{2})(a0[1-5]|b0[1-9]|b10)([WLEAFTN])([a-z])$")
BAD_NAME = ("not an EMO-DB name SSTTTEV (speaker 03, 08-16; text a01-a05, b01-b10; emotion W L E A F "
            "T N; version a-z)")
HELD_OUT_SHARE = 1 / 6


def parse(stem: str) -> tuple[str, str, str, str] | None:
    """(speaker, text, emotion letter, version) of an EMO-DB name, or None."""
    m = _NAME.match(stem)
    return m.groups() if m and m.group(1) in SEX else None


def wav_folder(root: Path) -> Path:
    """The folder of the WAV files: ``root/wav`` (the download's layout), or ``root`` itself."""
    return root / "wav" if (root / "wav").is_dir() else root


def find(root: Path, config: CorpusConfig) -> ManifestResult:
    """Every file of the ``wav/`` folder: EMO-DB names become rows, anything else is rejected."""
    if not root.is_dir():
        raise CorpusError(f"corpus root {root} is not a folder: set corpus.root in params.yaml to your "
                          "EMO-DB folder (the one holding wav/, or wav/ itself)")
    folder = wav_folder(root)
    result = ManifestResult(kind=NAME, labels=LABELS)
    pointers: list[str] = []
    for path in sorted(p for p in folder.iterdir() if not p.name.startswith(".")):
        if path.is_dir():
            continue
        found = named_audio(root, path, parse, BAD_NAME, result, pointers)
        if found is None:
            continue
        (speaker, text, letter, version), rel, size = found
        result.rows.append(ManifestRow(path.stem, speaker, text, LETTERS[letter], version, -1, "", rel,
                                       None, size, sex=SEX[speaker], media="audio"))
    if pointers:
        raise lfs_error(root, pointers)
    if not result.rows and not result.rejected:
        raise CorpusError(f"{folder} holds no file: is corpus.root an EMO-DB folder (wav/ of SSTTTEV.wav files)?")
    return result


def held_out(n_actors: int) -> int:
    """Actors per held-out split for ``split.*_actors: auto``: a sixth (EMO-DB's 10: 2 and 2);
    the field's protocol for EMO-DB is leave-one-speaker-out (``eval.folds: loso``)."""
    return max(1, round(n_actors * HELD_OUT_SHARE))


def speaker_of(clip_id: str) -> str | None:
    """The speaker of an EMO-DB name, or None when it is none."""
    codes = parse(clip_id)
    return codes[0] if codes else None
