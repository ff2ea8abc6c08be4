"""Decoding media with PyAV (FFmpeg): video frames and audio tracks of FLV/MP4/AVI files."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import av
import numpy as np

from avemo.errors import MediaError

#: File endings a corpus lists as audio files (what they hold is read from their bytes, not the
#: ending: :func:`avemo.pipeline.audio.load_audio`).
AUDIO_EXTS = (".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a", ".aac", ".aif", ".aiff", ".wma")


def check_file(path: str | Path) -> Path:
    """The path, if it is a non-empty file; else MediaError saying which it is not."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: file does not exist", kind="missing file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty (0 bytes)", kind="empty file")
    return path


def open_media(path: str | Path):
    """The opened container of a non-empty file (a context manager); MediaError naming the file."""
    path = check_file(path)
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(f"{path}: cannot be opened as media ({exc})") from exc


def open_video(path: str | Path) -> tuple["av.container.InputContainer", "av.VideoStream"]:
    """A file's container and its first video stream, set to decode single-threaded (the same
    frames on every run, and no thread start-up per clip); MediaError when the file cannot be
    opened or has no video. The caller closes the container (``with container:``)."""
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise MediaError(f"{path}: cannot be opened as video ({exc})") from exc
    if not container.streams.video:
        container.close()
        raise MediaError(f"{path}: has no video track", kind="no video track")
    stream = container.streams.video[0]
    stream.thread_type = "NONE"
    return container, stream


def has_audio_track(path: str | Path) -> bool:
    """Whether a media file's container holds an audio stream (probed, nothing decoded); False
    for a file that cannot be opened (its failure is the extraction stage's to record)."""
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.audio)
    except (av.error.FFmpegError, OSError, ValueError):
        return False


def iter_audio(path: str | Path) -> Iterator[tuple[int, np.ndarray]]:
    """A file's first audio stream decoded in order, as (native rate Hz, mono float32 chunk) pairs
    (channels averaged, as ``librosa.load(mono=True)`` does). MediaError when it has no audio
    track or nothing of it decodes; a decoding error later ends the stream (a truncated file keeps
    what decodes)."""
    with open_media(path) as container:
        if not container.streams.audio:
            raise MediaError(f"{path}: has no audio track", kind="no audio track")
        stream = container.streams.audio[0]
        rate = int(stream.codec_context.sample_rate)
        resampler = av.AudioResampler(format="fltp", layout=None, rate=rate)
        got = False
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    got = True
                    yield rate, out.to_ndarray().mean(axis=0)
            for out in resampler.resample(None):
                yield rate, out.to_ndarray().mean(axis=0)
        except (av.error.FFmpegError, ValueError) as exc:
            if not got:
                raise MediaError(f"{path}: audio track cannot be decoded ({exc})") from exc


def read_audio_track(path: str | Path) -> tuple[np.ndarray, int]:
    """Decode a file's first audio stream -> (samples [shape=(n,)] float32 mono, native rate Hz)."""
    chunks, rate = [], 0
    for rate, chunk in iter_audio(path):
        chunks.append(chunk)
    if not chunks:
        raise MediaError(f"{path}: audio track holds no samples", kind="no audio track")
    return np.concatenate(chunks).astype(np.float32, copy=False), rate


def read_video_frames(path: str | Path, fmt: str = "bgr24") -> list[np.ndarray]:
    """Decode every frame of a file's first video stream -> list of (H, W, 3) uint8 arrays."""
    frames: list[np.ndarray] = []
    with open_media(path) as container:
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


def probe_duration(path: str | Path) -> float:
    """A media file's duration in seconds (the container's, else its first stream's, else frames
    over the frame rate), without decoding; MediaError naming the file when it cannot be read."""
    with open_media(path) as container:
        if container.duration:
            return container.duration / 1e6
        for stream in (*container.streams.video, *container.streams.audio):
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
        if container.streams.video:
            stream = container.streams.video[0]
            n = sum(1 for p in container.demux(stream) if p.size)
            return n / float(stream.average_rate or 25)
    raise MediaError(f"{path}: holds no audio or video stream", kind="undecodable")
