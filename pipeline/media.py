"""Decoding media with PyAV (FFmpeg): video frames and audio tracks of FLV/MP4/AVI files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

from avemo.errors import MediaError


def check_file(path: str | Path) -> Path:
    """The path, if it is a non-empty file; else MediaError saying which it is not."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: file does not exist", kind="missing file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty (0 bytes)", kind="empty file")
    return path


def _open(path: str | Path):
    path = check_file(path)
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(f"{path}: cannot be opened as media ({exc})") from exc


def read_audio_track(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a file's first audio stream -> (samples [shape=(n,)] float32 mono, native rate Hz).

    Channels are averaged, as ``librosa.load(mono=True)`` does.
    """
    chunks: list[np.ndarray] = []
    with _open(path) as container:
        if not container.streams.audio:
            raise MediaError(f"{path}: has no audio track", kind="no audio track")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="fltp", layout=None, rate=rate)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().mean(axis=0))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().mean(axis=0))
        except (av.error.FFmpegError, ValueError) as exc:
            if not chunks:
                raise MediaError(f"{path}: audio track cannot be decoded ({exc})") from exc
    if not chunks:
        raise MediaError(f"{path}: audio track holds no samples", kind="no audio track")
    return np.concatenate(chunks).astype(np.float32, copy=False), int(rate)


def read_video_frames(path: str | Path, fmt: str = "bgr24") -> list[np.ndarray]:
    """Decode every frame of a file's first video stream -> list of (H, W, 3) uint8 arrays."""
    frames: list[np.ndarray] = []
    with _open(path) as container:
        if not container.streams.video:
            raise MediaError(f"{path}: has no video track", kind="no video track")
        try:
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format=fmt))
        except (av.error.FFmpegError, ValueError) as exc:
            if not frames:
                raise MediaError(f"{path}: video track cannot be decoded ({exc})") from exc
    if not frames:
        raise MediaError(f"{path}: video track holds no frames")
    return frames
