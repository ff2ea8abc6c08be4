"""Test helpers: write small real videos with PyAV, compare stores byte for byte."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def write_video(path, frames, fps=30, codec="flv", fmt="flv", pix_fmt="yuv420p") -> Path:
    """Encode RGB frames (no audio track) with PyAV: FLV1 by default, like the demo corpus."""
    with av.open(str(path), "w", format=fmt) as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], pix_fmt
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            f.pts = i
            for p in vs.encode(f):
                out.mux(p)
        for p in vs.encode():
            out.mux(p)
    return Path(path)


def assert_same_files(a: Path, b: Path, must_include: str = "") -> None:
    """Two store folders hold the same file names with the same bytes."""
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    assert not must_include or must_include in names
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
