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


#: Moving clips made from a real still clip (``moving_frames``): name -> (dx, dy, scale) of the
#: face at clip time t in [0, 1], shifts in face widths. Sways end where they start, so a
#: localiser that looks only at the first and last frame sees a still face.
MOTIONS = {
    "still": lambda t: (0.0, 0.0, 1.0),
    "jump": lambda t: (0.0, 0.0, 1.0) if t < 0.5 else (0.6, 0.35, 1.1),  # a cut to a new framing
    "sway x1": lambda t: (0.5 * np.sin(2 * np.pi * t), 0.3 * np.sin(2 * np.pi * t), 1.0),
    "sway x2": lambda t: (0.5 * np.sin(4 * np.pi * t), 0.3 * np.sin(4 * np.pi * t), 1.0),
    "sway x3": lambda t: (0.5 * np.sin(6 * np.pi * t), 0.5 * np.cos(6 * np.pi * t), 1.0),  # circles
    "pan": lambda t: (t - 0.5, 0.0, 1.0),
    "zoom": lambda t: (0.0, 0.0, 0.85 + 0.3 * t),
}


def moving_frames(frames: list[np.ndarray], face: tuple[float, float, float, float], motion: str,
                  cover: tuple[float, float] | None = None) -> list[np.ndarray]:
    """The frames of a real clip with the face moved along :data:`MOTIONS` ``[motion]`` (shift
    in face widths and scale about the face centre; the frame edge is replicated, not
    mirrored, so no second face appears). ``cover``: (t0, t1) of the clip during which the face
    is hidden behind a flat grey patch, as a hand or the speaker leaving would hide it."""
    import cv2

    cx, cy, w = (face[0] + face[2]) / 2, (face[1] + face[3]) / 2, face[2] - face[0]
    out = []
    for j, img in enumerate(frames):
        t = j / max(len(frames) - 1, 1)
        dx, dy, s = MOTIONS[motion](t)
        m = np.array([[s, 0, (1 - s) * cx + dx * w], [0, s, (1 - s) * cy + dy * w]], np.float64)
        moved = cv2.warpAffine(img, m, (img.shape[1], img.shape[0]), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        if cover and cover[0] <= t <= cover[1]:
            x0, y0 = int(cx + dx * w - 0.8 * w * s), int(cy + dy * w - 0.9 * w * s)
            moved[max(y0, 0):int(y0 + 1.8 * w * s), max(x0, 0):int(x0 + 1.6 * w * s)] = 128
        out.append(moved)
    return out
