"""A long recording as windows, decoded in one streaming pass: memory holds one window's
frames (and audio), never the file. Each window's features are made by the extraction stages'
functions: its frames sampled uniformly as a clip's (``sample_indices``), located and cropped by
:func:`avemo.pipeline.faces.track_frames`; its audio resampled as ``load_audio`` resamples
(soxr, librosa's default) and cut into the MFCC windows by ``mfcc_windows``."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from avemo.errors import MediaError, NoFaceError
from avemo.features.schema import LOST
from avemo.pipeline import faces
from avemo.pipeline.audio import libsndfile_reads, mfcc_windows
from avemo.pipeline.config import FaceConfig, MfccConfig
from avemo.pipeline.media import iter_audio, open_video
from avemo.pipeline.video import Frame, sample_indices

#: A video's audio from a same-named file beside it, when there is one.
AUDIO_BESIDE = (".wav", ".flac")
NO_FACE, FACE_LOST, SILENT = "no face", "face lost on some frames", "silent audio (the file has none)"


@dataclass(frozen=True)
class Window:
    start: float
    end: float


def face_share(located: np.ndarray) -> float:
    """The share of sampled frames whose face was located (not ``lost``)."""
    return float(np.mean(located != LOST))


def plan_windows(duration: float, window: float, hop: float) -> list[Window]:
    """Windows of ``window`` s every ``hop`` s from 0; the last one ends at the end of the file."""
    if duration <= window:
        return [Window(0.0, duration)]
    n = int(np.floor((duration - window) / hop + 1e-9)) + 1
    out = [Window(round(i * hop, 6), round(i * hop + window, 6)) for i in range(n)]
    if out[-1].end < duration - 1e-6:
        out.append(Window(round(duration - window, 6), round(duration, 6)))
    return out


def _frames(path: Path, windows: list[Window]) -> Iterator[tuple[Window, list[Frame]]]:
    """Each window with the decoded frames whose time lies in it (in order), decoding once."""
    container, stream = open_video(path)  # decoded as the extraction decodes
    with container:
        rate = float(stream.average_rate or 25)
        buf: deque[tuple[float, Frame]] = deque()
        i = 0
        try:
            for n, picture in enumerate(container.decode(stream)):
                t = float(picture.time) if picture.time is not None else n / rate
                while i < len(windows) and t >= windows[i].end:
                    yield windows[i], [f for s, f in buf if windows[i].start <= s < windows[i].end]
                    i += 1
                    while buf and i < len(windows) and buf[0][0] < windows[i].start:
                        buf.popleft()
                if i < len(windows) and t >= windows[i].start:
                    buf.append((t, Frame(picture)))
        except (av.error.FFmpegError, ValueError):
            pass  # a truncated file: the windows it still covers
        for w in windows[i:]:
            yield w, [f for s, f in buf if w.start <= s < w.end]


def _resample(y: np.ndarray, rate: int, sr: int) -> np.ndarray:
    import librosa

    return y if rate == sr else librosa.resample(y, orig_sr=rate, target_sr=sr)


def _audio(path: Path, windows: list[Window], sr: int) -> Iterator[np.ndarray]:
    """Each window's samples at ``sr`` Hz mono (channels averaged), reading the file once; a file
    libsndfile reads (by its bytes, as :func:`avemo.pipeline.audio.load_audio`) by seeking."""
    if libsndfile_reads(path):
        import soundfile as sf

        try:
            with sf.SoundFile(str(path)) as f:
                for w in windows:
                    f.seek(min(int(round(w.start * f.samplerate)), f.frames))
                    block = f.read(int(round((w.end - w.start) * f.samplerate)), dtype="float32", always_2d=True)
                    yield _resample(block.mean(axis=1), f.samplerate, sr)
        except RuntimeError as exc:
            raise MediaError(f"{path}: cannot be decoded as audio ({exc})") from exc
        return
    chunks: deque[np.ndarray] = deque()
    first = have = i = 0  # first: the sample index of chunks[0][0]; have: samples decoded
    rate = 0

    def take(w: Window) -> np.ndarray:
        a, b = int(round(w.start * rate)), int(round(w.end * rate))
        data = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
        return _resample(data[max(a - first, 0):max(b - first, 0)], rate, sr)

    for rate, chunk in iter_audio(path):
        chunks.append(chunk.astype(np.float32))
        have += len(chunk)
        while i < len(windows) and have >= int(round(windows[i].end * rate)):
            yield take(windows[i])
            i += 1
            keep = int(round(windows[i].start * rate)) if i < len(windows) else have
            while chunks and first + len(chunks[0]) <= keep:
                first += len(chunks.popleft())
    if not have:
        raise MediaError(f"{path}: audio track holds no samples", kind="no audio track")
    for w in windows[i:]:
        yield take(w)


def window_features(video: Path, audio_source: Path, windows: list[Window], face: FaceConfig | None,
                    mfcc: MfccConfig | None, silent_audio: bool = False
                    ) -> Iterator[tuple[Window, dict[str, np.ndarray] | None, float | None, tuple[str, ...]]]:
    """Per window: the model inputs (None where a face is needed and none was found), the share
    of sampled frames where the face was located, and flags."""
    silent = False
    sounds: Iterator[np.ndarray] | None = None
    if mfcc is not None:
        sounds = _audio(audio_source, windows, mfcc.sr)
        try:
            first = next(sounds)
        except MediaError as exc:
            if exc.kind != "no audio track" or not silent_audio:
                raise
            silent = True
        else:
            sounds = _chain(first, sounds)
    pictures = _frames(video, windows) if face is not None else ((w, []) for w in windows)
    for w, frames in pictures:
        inputs: dict[str, np.ndarray] = {}
        flags: list[str] = []
        share = None
        if mfcc is not None:
            y = np.zeros(1, np.float32) if silent else next(sounds)
            inputs["mfcc"] = mfcc_windows(y if y.size else np.zeros(1, np.float32), mfcc)
            if silent:
                flags.append(SILENT)
        if face is not None:
            if not frames:
                yield w, None, 0.0, (*flags, NO_FACE)
                continue
            idx = sample_indices(len(frames), face.n_frames)
            try:
                arrays = faces.track_frames([frames[j] for j in idx], len(frames), face)
            except NoFaceError:
                yield w, None, 0.0, (*flags, NO_FACE)
                continue
            inputs["faces"] = arrays["frames"]
            share = face_share(arrays["located"])
            if share < 1:
                flags.append(FACE_LOST)
        yield w, inputs, share, tuple(flags)


def _chain(first, rest):
    yield first
    yield from rest
