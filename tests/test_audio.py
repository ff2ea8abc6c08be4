import librosa
import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from avemo.errors import MediaError
from avemo.pipeline.audio import load_audio, mfcc_windows
from avemo.pipeline.config import MfccConfig
from tests.media import write_video

EMOS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")


def _design_formula(path):
    """The paper's definition (docs/architecture.md), written out with plain librosa calls."""
    y, _ = librosa.load(path, sr=22050, mono=True)
    y = np.pad(y, (0, max(0, 110250 - len(y))))[:110250]
    m = librosa.feature.mfcc(y=y, sr=22050, n_mfcc=40, n_fft=2048, hop_length=512).T
    assert m.shape == (216, 40)
    return np.stack([m[20 * k:20 * k + 40] for k in range(9)])


@pytest.mark.parametrize("emotion", EMOS)
def test_mfcc_equals_design_formula_on_real_wavs(crema_dir, emotion):
    path = crema_dir / "AudioWAV" / f"1001_DFA_{emotion}_XX.wav"
    got = mfcc_windows(load_audio(path, 22050))
    assert got.shape == (9, 40, 40) and got.dtype == np.float32
    np.testing.assert_allclose(got, _design_formula(path), rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("emotion", EMOS)
def test_video_track_gives_nearly_the_wav_features(crema_dir, emotion):
    wav = mfcc_windows(load_audio(crema_dir / "AudioWAV" / f"1001_DFA_{emotion}_XX.wav", 22050))
    flv = mfcc_windows(load_audio(crema_dir / "VideoFlash" / f"1001_DFA_{emotion}_XX.flv", 22050))
    corr = np.corrcoef(wav[..., 1:].ravel(), flv[..., 1:].ravel())[0, 1]
    assert corr > 0.9
    assert np.abs(wav - flv).mean() < 0.05 * wav.std()


@settings(max_examples=30, deadline=None)
@given(st.floats(0.05, 9.0), st.integers(0, 2**31 - 1))
def test_shapes_padding_and_cutting(seconds, seed):
    cfg = MfccConfig()
    y = np.random.default_rng(seed).normal(0, 0.1, int(seconds * cfg.sr)).astype(np.float32)
    got = mfcc_windows(y, cfg)
    assert got.shape == (9, 40, 40) and got.dtype == np.float32 and np.isfinite(got).all()
    fixed = np.zeros(cfg.n_samples, np.float32)
    fixed[:min(len(y), cfg.n_samples)] = y[:cfg.n_samples]
    np.testing.assert_array_equal(got, mfcc_windows(fixed, cfg))  # cut / zero-padded at the end
    if seconds > 5.5:  # what lies past 5 s never matters
        y2 = y.copy()
        y2[cfg.n_samples:] = 0.5
        np.testing.assert_array_equal(got, mfcc_windows(y2, cfg))


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 60), st.integers(1, 40), st.floats(0.5, 8.0))
def test_window_count_invariant(window, step, duration):
    cfg = MfccConfig(window=window, step=step, duration=duration)
    if cfg.n_windows < 1:
        return
    got = mfcc_windows(np.zeros(100, np.float32), cfg)
    assert got.shape == (cfg.n_windows, window, 40)
    assert (cfg.n_windows - 1) * step + window <= cfg.n_frames < cfg.n_windows * step + window


def test_any_rate_and_channel_count(tmp_path, rng):
    path = tmp_path / "stereo48k.wav"
    sf.write(path, rng.normal(0, 0.1, (48000, 2)).astype(np.float32), 48000)
    y = load_audio(path, 22050)
    assert y.ndim == 1 and abs(len(y) - 22050) <= 1


def test_broken_empty_and_silent_video(tmp_path):
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio" * 10)
    with pytest.raises(MediaError, match="garbage.wav"):
        load_audio(garbage, 22050)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(MediaError) as err:
        load_audio(empty, 22050)
    assert err.value.kind == "empty file"
    silent = write_video(tmp_path / "silent.flv", [np.zeros((48, 64, 3), np.uint8)] * 5)
    with pytest.raises(MediaError) as err:
        load_audio(silent, 22050)
    assert err.value.kind == "no audio track"
