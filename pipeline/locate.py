"""Where the face is on each sampled frame: one function per localisation strategy, chosen
from :data:`STRATEGIES` by ``faces.strategy``; frames left without a box are filled later by
the processor (:mod:`avemo.pipeline.faces`).

- ``every``: full-resolution detection on each sampled frame (the reference, and the slowest).
- ``keyframes``: full-resolution detection on ``keyframes`` evenly spaced frames.
- ``track`` (default): one keyframe detected (:func:`avemo.pipeline.detectors.detect_largest`),
  that face tracked onto the other keyframes by normalised cross-correlation
  (:func:`track_face`); a keyframe where the match is weak (the face changed size, turned,
  left) gets a detection of its own.

docs/faces.md has the measured cost and fidelity of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from avemo.errors import ConfigError, NoFaceError
from avemo.pipeline.boxes import Box, grow, largest
from avemo.pipeline.detectors import FaceDetector, detect_largest, gray_of


@dataclass(frozen=True)
class LocateOptions:
    """The ``faces`` params a strategy reads: how many keyframes, how far past the nearest known
    box (in face sizes) tracking searches, and the least correlation a tracked box needs."""

    keyframes: int = 2
    roi_margin: float = 0.5
    track_ncc: float = 0.7


#: A strategy: (frames, detector, options) -> per frame a box or None, and whether each box
#: came from a detection.
Strategy = Callable[[list, FaceDetector, LocateOptions], tuple[list["Box | None"], list[bool]]]


def keyframe_positions(n: int, k: int) -> list[int]:
    """``k`` evenly spaced positions among ``n`` frames (both ends from k=2; the middle frame
    for k=1), the middle one first."""
    if k <= 1:
        return [(n - 1) // 2]
    pos = sorted(set(np.round(np.linspace(0, n - 1, min(k, n))).astype(int).tolist()))
    mid = pos[len(pos) // 2]
    return [mid] + [p for p in pos if p != mid]


#: Templates are matched at a scale that makes them this wide (px): the cost is the same for
#: any face size, and positions are still found to a fraction of a source pixel.
TRACK_WIDTH = 48


def track_face(ref: np.ndarray, box: Box, gray: np.ndarray, near: Box, margin: float,
               min_ncc: float) -> Box | None:
    """``box`` (the face in the gray frame ``ref``) moved to where that face is in ``gray``,
    searched within ``near`` grown by ``margin`` face sizes; None when the best normalised
    cross-correlation is below ``min_ncc`` (the face changed or left: detect there instead).

    Both images are area-reduced so that the template is :data:`TRACK_WIDTH` px wide, matched
    with OpenCV's ``TM_CCOEFF_NORMED``, and the peak refined to sub-pixel by a parabola (a
    fraction of a detection's cost: docs/faces.md). Translation only: the size stays ``box``'s,
    so a face that grows or shrinks a lot scores low and gets a detection."""
    h, w = gray.shape
    tx0, ty0, tx1, ty1 = grow(box, 0.0, w, h)
    sx0, sy0, sx1, sy1 = grow(near, margin, w, h)
    scale = min(1.0, TRACK_WIDTH / max(box[2] - box[0], box[3] - box[1], 1.0))
    tw, th = round((tx1 - tx0) * scale), round((ty1 - ty0) * scale)
    ww, wh = round((sx1 - sx0) * scale), round((sy1 - sy0) * scale)
    if min(tw, th) < 8 or ww <= tw or wh <= th:
        return None
    tpl = cv2.resize(ref[ty0:ty1, tx0:tx1], (tw, th), interpolation=cv2.INTER_AREA)
    if tpl.std() < 2:  # a flat patch matches anything
        return None
    win = cv2.resize(gray[sy0:sy1, sx0:sx1], (ww, wh), interpolation=cv2.INTER_AREA)
    ncc = cv2.matchTemplate(win, tpl, cv2.TM_CCOEFF_NORMED)
    _, best, _, (px, py) = cv2.minMaxLoc(ncc)
    if not best >= min_ncc:  # also NaN
        return None
    fx = px + _peak_offset(ncc[py, px - 1:px + 2]) if 0 < px < ncc.shape[1] - 1 else px
    fy = py + _peak_offset(ncc[py - 1:py + 2, px]) if 0 < py < ncc.shape[0] - 1 else py
    dx = sx0 + fx * (sx1 - sx0) / ww - tx0
    dy = sy0 + fy * (sy1 - sy0) / wh - ty0
    return (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)


def _peak_offset(v: np.ndarray) -> float:
    """Sub-sample offset of the maximum of a parabola through three samples around a peak."""
    den = float(v[0]) - 2 * float(v[1]) + float(v[2])
    return 0.0 if den >= 0 else float(np.clip(0.5 * (float(v[0]) - float(v[2])) / den, -0.5, 0.5))


def locate_every(frames: list, detect: FaceDetector, opts: LocateOptions) -> tuple[list[Box | None], list[bool]]:
    """Full-resolution detection on every frame."""
    boxes = [largest(detect(gray_of(f))) for f in frames]
    return boxes, [b is not None for b in boxes]


def locate_keyframes(frames: list, detect: FaceDetector, opts: LocateOptions) -> tuple[list[Box | None], list[bool]]:
    """Full-resolution detection on ``opts.keyframes`` evenly spaced frames."""
    boxes: list[Box | None] = [None] * len(frames)
    for i in keyframe_positions(len(frames), opts.keyframes):
        boxes[i] = largest(detect(gray_of(frames[i])))
    return boxes, [b is not None for b in boxes]


def locate_track(frames: list, detect: FaceDetector, opts: LocateOptions) -> tuple[list[Box | None], list[bool]]:
    """The middle keyframe detected (the others only while none holds a face), that face tracked
    outwards onto the other keyframes; a keyframe it cannot be tracked to gets a detection."""
    n = len(frames)
    boxes: list[Box | None] = [None] * n
    detected = [False] * n
    order = keyframe_positions(n, opts.keyframes)
    anchor_at = None
    for i in order:  # the middle keyframe first; others only while no face is found
        boxes[i] = detect_largest(detect, gray_of(frames[i]))
        if boxes[i] is not None:
            anchor_at = i
            break
    if anchor_at is None:
        return boxes, detected
    detected[anchor_at] = True
    ref, face = gray_of(frames[anchor_at]), boxes[anchor_at]
    done = set(order[:order.index(anchor_at) + 1])
    for i in sorted(order, key=lambda p: abs(p - anchor_at)):  # outwards from the anchor
        if i in done:
            continue
        near = boxes[min((j for j, b in enumerate(boxes) if b is not None), key=lambda j: abs(j - i))]
        gray = gray_of(frames[i])
        boxes[i] = track_face(ref, face, gray, near, opts.roi_margin, opts.track_ncc)
        if boxes[i] is None:  # the face changed or left: a detection decides
            boxes[i] = detect_largest(detect, gray)
            detected[i] = boxes[i] is not None
    return boxes, detected


STRATEGIES: dict[str, Strategy] = {"track": locate_track, "keyframes": locate_keyframes, "every": locate_every}


def locate_faces(frames: list, detect: FaceDetector, strategy: str, options: LocateOptions = LocateOptions(),
                 probes: int = 10) -> tuple[list[Box | None], list[bool]]:
    """Per sampled frame, the box of the speaker's face or None (to be interpolated), and
    whether the box came from a detection (else from tracking).

    When the strategy finds no face at all, up to ``probes`` evenly spaced frames it did not try
    are searched; :class:`NoFaceError` when none of them holds a face either.
    """
    locate = STRATEGIES.get(strategy)
    if locate is None:
        raise ConfigError(f"faces.strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    boxes, detected = locate(frames, detect, options)
    if any(b is not None for b in boxes):
        return boxes, detected
    n = len(frames)
    tried = set(range(n)) if strategy == "every" else set(keyframe_positions(n, options.keyframes))
    for i in keyframe_positions(n, probes):
        if i not in tried:
            boxes[i] = largest(detect(gray_of(frames[i])))
    if all(b is None for b in boxes):
        raise NoFaceError(f"no face found in any of {len(tried | set(keyframe_positions(n, probes)))} "
                          f"sampled frames checked")
    return boxes, [b is not None for b in boxes]
