"""Face box geometry: boxes are (x0, y0, x1, y1) float source pixels."""

from __future__ import annotations

import numpy as np

Box = tuple[float, float, float, float]


def area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else 0.0


def largest(boxes: list[Box]) -> Box | None:
    """The largest face (the speaker, when several are in view)."""
    return max(boxes, key=area) if boxes else None


def grow(box: Box, margin: float, width: int, height: int) -> tuple[int, int, int, int]:
    """The box grown by ``margin`` of its size on each side, clipped to the frame (ints)."""
    w, h = box[2] - box[0], box[3] - box[1]
    return (max(0, int(box[0] - margin * w)), max(0, int(box[1] - margin * h)),
            min(width, int(np.ceil(box[2] + margin * w))), min(height, int(np.ceil(box[3] + margin * h))))


def interpolate(boxes: list[Box | None], times=None) -> np.ndarray:
    """Fill frames without a box linearly (in ``times``, default 0..n-1: the source frame
    index of each sample) from the nearest detected frames, held at the ends -> (n, 4) float32.
    A frame sampled twice gets the same box twice."""
    known = [i for i, b in enumerate(boxes) if b is not None]
    if not known:
        raise ValueError("no box to interpolate from")
    t = np.arange(len(boxes), dtype=np.float64) if times is None else np.asarray(times, np.float64)
    order = sorted(known, key=lambda i: t[i])
    values = np.array([boxes[i] for i in order], np.float64)
    return np.stack([np.interp(t, t[order], values[:, k]) for k in range(4)], axis=1).astype(np.float32)


def smooth(boxes: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over ``window`` frames (edges repeated); 1 = unchanged."""
    if window <= 1:
        return boxes
    pad = window // 2
    padded = np.pad(boxes.astype(np.float64), ((pad, window - 1 - pad), (0, 0)), mode="edge")
    kernel = np.ones(window) / window
    return np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(4)], 1).astype(np.float32)
