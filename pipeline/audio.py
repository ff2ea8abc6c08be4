"""Audio loading and the paper's MFCC windows (exactly as docs/architecture.md defines them)."""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from avemo.errors import MediaError
from avemo.pipeline.config import MfccConfig
from avemo.pipeline.media import check_file, read_audio_track
from avemo.pipeline.threads import single_threaded_blas

#: Bumped whenever stored MFCCs change for the same params (part of the store params).
ALGORITHM_VERSION = 1


def libsndfile_reads(path: str | Path) -> bool:
    """Whether libsndfile knows the file's format from its bytes (WAV, FLAC, OGG, AIFF, MP3 with
    libsndfile >= 1.1, whatever the file's name); else FFmpeg is the decoder to try."""
    import soundfile

    try:
        soundfile.info(str(path))
        return True
    except Exception:  # soundfile raises its own and libsndfile's errors
        return False


def load_audio(path: str | Path, sr: int) -> np.ndarray:
    """Samples of ``path`` at ``sr`` Hz, mono -> [shape=(n,)] float32.

    What the file is comes from its bytes, not its name: a file libsndfile reads (WAV, FLAC, OGG,
    AIFF, and MP3 with libsndfile >= 1.1, whatever its ending) goes through
    ``librosa.load(path, sr=sr, mono=True)``; anything else (a video, an M4A, an MP3 libsndfile
    lacks) is decoded with FFmpeg, averaged to mono and resampled the same way (soxr_hq,
    librosa's default). Any sample rate and channel count.
    """
    import librosa

    path = check_file(path)
    if libsndfile_reads(path):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", (UserWarning, FutureWarning))
                y, _ = librosa.load(path, sr=sr, mono=True)
        except Exception as exc:  # soundfile raises many unrelated types
            raise MediaError(f"{path}: cannot be decoded as audio ({type(exc).__name__}: {exc})") from exc
    else:
        raw, rate = read_audio_track(path)
        y = raw if rate == sr else librosa.resample(raw, orig_sr=rate, target_sr=sr)
    if y.size == 0:
        raise MediaError(f"{path}: holds no audio samples", kind="no audio track")
    if not np.all(np.isfinite(y)):
        raise MediaError(f"{path}: audio holds NaN or infinite samples")
    return y.astype(np.float32, copy=False)


@lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int) -> np.ndarray:
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft)


def mfcc_windows(y: np.ndarray, config: MfccConfig = MfccConfig()) -> np.ndarray:
    """The paper's MFCC windows of one clip -> [shape=(9, 40, 40)] float32 (window, time, coef).

    ``y`` is cut or zero-padded at the end to ``duration`` s; ``M = mfcc(y).T`` has 216 frames
    of 40 coefficients; window k is ``M[step*k : step*k + window]``. Equal to
    ``librosa.feature.mfcc(y=y, sr, n_mfcc, n_fft, hop_length)`` with the mel basis cached.
    """
    import librosa

    y = librosa.util.fix_length(np.asarray(y, dtype=np.float32), size=config.n_samples)
    power = np.abs(librosa.stft(y, n_fft=config.n_fft, hop_length=config.hop_length)) ** 2
    with single_threaded_blas():  # same bytes whatever the process's thread settings
        mel = np.einsum("ft,mf->mt", power, _mel_basis(config.sr, config.n_fft), optimize=True)
    m = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=config.n_mfcc).T  # (frames, coefs)
    starts = range(0, config.n_windows * config.step, config.step)
    return np.stack([m[s:s + config.window] for s in starts]).astype(np.float32)
