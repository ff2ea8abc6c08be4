"""Re-make the speech-corpus test media (EMO-DB-, TESS- and RAVDESS-audio-style) from real
CREMA-D speech: the six DFA WAVs of actor 1001 (``crema-d/AudioWAV``), and the genuine CREMA-D
files in ``speech-sources/`` (actor 1001's IOM WAVs, actor 1002's DFA MP3s, actor 1050's TIE WAV).

    .venv/bin/python tests/data/make_speech.py   # writes tests/data/emodb, tess, ravdess-speech

The output is committed (SOURCE.md in each folder). Pseudo-speakers are a real voice, or the same
voice played 6% slower or faster (pitch and tempo shift), so that speaker-independent splits and
leave-one-speaker-out folds have several speakers; each corpus is in its own format: EMO-DB 16 kHz
mono, TESS 24,414 Hz mono, RAVDESS 48 kHz stereo, all 16-bit PCM WAV.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "speech-sources"
EMOS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
#: CREMA-D emotion -> each corpus' code.
EMODB = {"ANG": "W", "DIS": "E", "FEA": "A", "HAP": "F", "NEU": "N", "SAD": "T"}
TESS = {"ANG": "angry", "DIS": "disgust", "FEA": "fear", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
RAVDESS = {"NEU": "01", "HAP": "03", "SAD": "04", "ANG": "05", "FEA": "06", "DIS": "07"}


def source(speaker: str, emotion: str, sentence: str = "DFA") -> tuple[np.ndarray, int] | None:
    """A real clip's samples (mono float32, native rate), or None when there is none."""
    for path in (HERE / "crema-d" / "AudioWAV" / f"{speaker}_{sentence}_{emotion}_XX.wav",
                 SOURCES / f"{speaker}_{sentence}_{emotion}_XX.wav", SOURCES / f"{speaker}_{sentence}_{emotion}_XX.mp3"):
        if path.is_file():
            y, sr = librosa.load(path, sr=None, mono=True)
            return y, sr
    return None


def render(y: np.ndarray, sr: int, to: int, speed: float, seconds: float) -> np.ndarray:
    """``y`` at ``to`` Hz, played ``speed`` times as fast (pitch and tempo), cut to ``seconds``."""
    out = librosa.resample(y, orig_sr=sr * speed, target_sr=to)
    return out[: int(seconds * to)].astype(np.float32)


def write(path: Path, y: np.ndarray, sr: int, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.stack([y, y * 0.9], axis=1) if channels == 2 else y
    sf.write(path, data, sr, subtype="PCM_16")


def emodb(out: Path) -> None:
    """wav/SSTTTEV.wav: speakers 03 and 10 (male: actor 1001, as is and 6% slower), 08 and 09
    (female: actor 1002, as is and 6% faster); text a01 from DFA, a02 from IOM (actor 1001 only)."""
    for spk, (actor, speed) in {"03": ("1001", 1.0), "10": ("1001", 0.94), "08": ("1002", 1.0),
                                "09": ("1002", 1.06)}.items():
        for emo in EMOS:
            for text, sentence in (("a01", "DFA"), ("a02", "IOM")):
                clip = source(actor, emo, sentence)
                if clip is not None:
                    write(out / "wav" / f"{spk}{text}{EMODB[emo]}a.wav", render(*clip, 16000, speed, 2.0), 16000)
    (out / "wav" / "README.txt").write_text("not an EMO-DB file: the manifest rejects it\n")


def tess(out: Path) -> None:
    """TESS' Kaggle layout: a folder per speaker and emotion; OAF (actor 1002 6% slower), YAF
    (actor 1002 6% faster), word 'back' (sentence DFA), six of TESS' seven emotions."""
    base = out / "TESS Toronto emotional speech set data"
    for spk, speed in (("OAF", 0.94), ("YAF", 1.06)):
        for emo in EMOS:
            clip = source("1002", emo)
            write(base / f"{spk}_{TESS[emo]}" / f"{spk}_back_{TESS[emo]}.wav", render(*clip, 24414, speed, 1.6), 24414)


def ravdess(out: Path) -> None:
    """The audio-only speech download's layout, Actor_NN/03-01-EE-01-01-01-NN.wav, 48 kHz stereo:
    01 (male: actor 1001), 02 (female: actor 1002), 03 (male: actor 1001 6% slower)."""
    for actor, (who, speed) in {"01": ("1001", 1.0), "02": ("1002", 1.0), "03": ("1001", 0.94)}.items():
        for emo in EMOS:
            write(out / f"Actor_{actor}" / f"03-01-{RAVDESS[emo]}-01-01-01-{actor}.wav",
                  render(*source(who, emo), 48000, speed, 1.0), 48000, channels=2)


def main() -> None:
    for name, make in (("emodb", emodb), ("tess", tess), ("ravdess-speech", ravdess)):
        out = HERE / name
        keep = (out / "SOURCE.md").read_text() if (out / "SOURCE.md").is_file() else None
        shutil.rmtree(out, ignore_errors=True)
        make(out)
        if keep:
            (out / "SOURCE.md").write_text(keep)
        print(name, sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) // 1024, "KB")


if __name__ == "__main__":
    main()
