"""Where the face is on each sampled frame: one function per localisation strategy, chosen
from :data:`STRATEGIES` by ``faces.strategy``; frames left without a box are filled later by
the processor (:mod:`avemo.pipeline.faces`). Every strategy also says, per frame, how its box
was found (the store's ``located`` codes, :data:`avemo.features.schema.LOCATED`).

- ``every``: full-resolution detection on each sampled frame (the reference, and the slowest).
- ``keyframes``: full-resolution detection on ``keyframes`` evenly spaced frames, the others
  interpolated (right only for a face that stands still or moves at constant speed).
- ``track`` (default): one frame detected (:func:`avemo.pipeline.detectors.detect_largest`),
  that face followed by template tracking (:class:`Tracker`) onto every ``track_step``-th frame
  outwards, and onto every frame between two of them whose boxes differ by more than
  ``refine`` face sizes (the face moved there); a frame where tracking loses the face gets a
  detection, which becomes the new template; a frame where that finds none too is ``lost``.

docs/faces.md has the measured cost and fidelity of each.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from avemo.errors import ConfigError, NoFaceError
from avemo.features.schema import DETECTED, INTERPOLATED, LOST, TRACKED
from avemo.pipeline.boxes import Box, grow, largest
from avemo.pipeline.config import FACE_STRATEGIES, FaceConfig
from avemo.pipeline.detectors import FaceDetector, detect_largest, gray_of, grid_step, image_of


#: A strategy: (frames, detector, the ``faces`` params) -> per frame a box or None, and how each
#: frame's box was found (:data:`avemo.features.schema.LOCATED` codes). The params a strategy
#: reads: ``keyframes`` (``keyframes``); for ``track`` how far past the last known box (in face
#: sizes) to search (``roi_margin``), the least correlation a tracked box needs (``track_ncc``),
#: every how many frames to track (``track_step``), the box change between two tracked frames
#: above which the frames between are located too (``refine``), and ``snap`` (tracked boxes on
#: the detector's own position grid).
Strategy = Callable[[list, FaceDetector, FaceConfig], tuple[list["Box | None"], np.ndarray]]


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
TRACK_WIDTH = 24
#: Template sizes (relative) tried where the match is weak: one of them matching better by
#: ZOOM_MARGIN means the face changed size, and only a detection gets its new size.
ZOOM_PROBES = (0.9, 1.1)
ZOOM_MARGIN = 0.03


class Tracker:
    """One face (``box`` in the gray frame ``ref``) found again in other frames by normalised
    cross-correlation; the template is cut and scaled once.

    Template and search window are area-reduced so that the template is :data:`TRACK_WIDTH` px
    wide, matched with OpenCV's ``TM_CCOEFF_NORMED``, and the peak refined to sub-pixel by a
    parabola (a fraction of a detection's cost: docs/faces.md). Translation only: the size stays
    ``box``'s (:meth:`zoomed` tells whether another size would match better). ``step`` (px): the
    shift is rounded to a multiple of it, so that a box tracked from a detection lands where the
    detector itself would put it (:func:`avemo.pipeline.detectors.grid_step`)."""

    def __init__(self, ref: np.ndarray, box: Box, step: float | None = None, zoom: float = 1.0):
        self.ref, self.box, self.step, self.zoom = ref, box, step, zoom
        h, w = ref.shape
        tx0, ty0, tx1, ty1 = grow(box, 0.0, w, h)
        self.corner = (tx0, ty0)
        self.scale = min(1.0, TRACK_WIDTH / max(box[2] - box[0], box[3] - box[1], 1.0))
        tw, th = round((tx1 - tx0) * self.scale * zoom), round((ty1 - ty0) * self.scale * zoom)
        self.template = None
        if min(tw, th) >= 8:
            tpl = cv2.resize(ref[ty0:ty1, tx0:tx1], (tw, th), interpolation=cv2.INTER_AREA)
            if tpl.std() >= 2:  # a flat patch matches anything
                self.template = tpl

    def zoomed(self, factor: float) -> "Tracker":
        """This face as if it were ``factor`` times as large (same centre)."""
        return Tracker(self.ref, self.box, self.step, factor)

    def match(self, gray: np.ndarray, near: Box, margin: float) -> tuple[Box | None, float]:
        """The best match in ``gray`` within ``near`` grown by ``margin`` face sizes, and its
        correlation (-1 where nothing can be matched)."""
        if self.template is None:
            return None, -1.0
        h, w = gray.shape
        sx0, sy0, sx1, sy1 = grow(near, margin, w, h)
        th, tw = self.template.shape
        ww, wh = round((sx1 - sx0) * self.scale), round((sy1 - sy0) * self.scale)
        if ww <= tw or wh <= th:
            return None, -1.0
        win = cv2.resize(gray[sy0:sy1, sx0:sx1], (ww, wh), interpolation=cv2.INTER_AREA)
        ncc = cv2.matchTemplate(win, self.template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (px, py) = cv2.minMaxLoc(ncc)
        if not np.isfinite(best):
            return None, -1.0
        fx = px + _peak_offset(ncc[py, px - 1:px + 2]) if 0 < px < ncc.shape[1] - 1 else px
        fy = py + _peak_offset(ncc[py - 1:py + 2, px]) if 0 < py < ncc.shape[0] - 1 else py
        b, z = self.box, self.zoom
        # where the (zoomed) template's top-left corner landed, in source pixels
        x0 = sx0 + fx * (sx1 - sx0) / ww
        y0 = sy0 + fy * (sy1 - sy0) / wh
        cx = x0 + (b[2] - b[0]) * z / 2 + (b[0] - self.corner[0]) * z
        cy = y0 + (b[3] - b[1]) * z / 2 + (b[1] - self.corner[1]) * z
        dx, dy = cx - (b[0] + b[2]) / 2, cy - (b[1] + b[3]) / 2
        if self.step:
            dx, dy = round(dx / self.step) * self.step, round(dy / self.step) * self.step
        return (b[0] + dx, b[1] + dy, b[2] + dx, b[3] + dy), float(best)

    def find(self, gray: np.ndarray, near: Box, margin: float, min_ncc: float) -> Box | None:
        """This face in ``gray``, searched within ``near`` grown by ``margin`` face sizes; None
        when the best correlation is below ``min_ncc`` (the face changed or left)."""
        box, score = self.match(gray, near, margin)
        return box if score >= min_ncc else None


def _peak_offset(v: np.ndarray) -> float:
    """Sub-sample offset of the maximum of a parabola through three samples around a peak."""
    den = float(v[0]) - 2 * float(v[1]) + float(v[2])
    return 0.0 if den >= 0 else float(np.clip(0.5 * (float(v[0]) - float(v[2])) / den, -0.5, 0.5))


def locate_every(frames: list, detect: FaceDetector, opts: FaceConfig) -> tuple[list[Box | None], np.ndarray]:
    """Full-resolution detection on every frame."""
    boxes = [largest(detect(image_of(f))) for f in frames]
    return boxes, np.array([DETECTED if b is not None else LOST for b in boxes], np.uint8)


def locate_keyframes(frames: list, detect: FaceDetector, opts: FaceConfig) -> tuple[list[Box | None], np.ndarray]:
    """Full-resolution detection on ``opts.keyframes`` evenly spaced frames."""
    boxes: list[Box | None] = [None] * len(frames)
    how = np.full(len(frames), INTERPOLATED, np.uint8)
    for i in keyframe_positions(len(frames), opts.keyframes):
        boxes[i] = largest(detect(image_of(frames[i])))
        how[i] = DETECTED if boxes[i] is not None else LOST
    return boxes, how


def _moved(a: Box, b: Box) -> float:
    """How far box ``b`` is from ``a`` (largest change of centre or size), in face sizes."""
    size = max(a[2] - a[0], a[3] - a[1], 1.0)
    return max(abs(a[0] + a[2] - b[0] - b[2]) / 2, abs(a[1] + a[3] - b[1] - b[3]) / 2,
               abs((a[2] - a[0]) - (b[2] - b[0])), abs((a[3] - a[1]) - (b[3] - b[1]))) / size


class _Follower:
    """``track``'s state over one clip: boxes and codes so far, the gray frames it has looked
    at, and one tracker per detected frame (its face is the template near it in time)."""

    def __init__(self, frames: list, detect: FaceDetector, opts: FaceConfig):
        self.frames, self.detect, self.opts = frames, detect, opts
        self.boxes: list[Box | None] = [None] * len(frames)
        self.how = np.full(len(frames), INTERPOLATED, np.uint8)
        self._gray: dict[int, np.ndarray] = {}
        self._trackers: dict[int, Tracker] = {}
        self.located: set[int] = set()  # frames :meth:`locate` has been run on

    def gray(self, i: int) -> np.ndarray:
        if i not in self._gray:
            self._gray[i] = gray_of(self.frames[i])
        return self._gray[i]

    def detect_at(self, i: int) -> Box | None:
        box = detect_largest(self.detect, image_of(self.frames[i]))
        self.boxes[i], self.how[i] = box, DETECTED if box is not None else LOST
        if box is not None:
            step = grid_step(self.detect, box) if self.opts.snap else None
            self._trackers[i] = Tracker(self.gray(i), box, step)
        return box

    def locate(self, i: int) -> Box | None:
        """Frame ``i`` tracked near the nearest known box, with the face of the nearest
        detection as template; where that match is weak and the face did not change size (a
        10% larger or smaller template does not match better), with the nearest located frame's
        face instead (an expression changed, the face is the same); a detection where both fail
        or the size changed; lost where that finds nothing."""
        opts = self.opts
        self.located.add(i)
        known = [j for j, b in enumerate(self.boxes) if b is not None and j != i]
        near = self.boxes[min(known, key=lambda j: (abs(j - i), j))]
        at = min(self._trackers, key=lambda j: (abs(j - i), j))
        tracker, gray = self._trackers[at], self.gray(i)
        box, score = tracker.match(gray, near, opts.roi_margin)
        if box is not None and score >= opts.track_ncc:
            self.boxes[i], self.how[i] = box, TRACKED
            return box
        resized = max(tracker.zoomed(f).match(gray, near, opts.roi_margin)[1] for f in ZOOM_PROBES)
        last = min((j for j in known if self.how[j] == TRACKED), key=lambda j: (abs(j - i), j), default=None)
        if resized <= score + ZOOM_MARGIN and last is not None:
            box = Tracker(self.gray(last), self.boxes[last], tracker.step).find(gray, near, opts.roi_margin,
                                                                                 opts.track_ncc)
            if box is not None:
                self.boxes[i], self.how[i] = box, TRACKED
                return box
        return self.detect_at(i)


def locate_track(frames: list, detect: FaceDetector, opts: FaceConfig) -> tuple[list[Box | None], np.ndarray]:
    """The middle frame detected (else up to 10 evenly spaced ones, until a face is found);
    that face tracked outwards onto every ``track_step``-th frame, then onto every frame between
    two of them whose boxes differ by more than ``refine`` face sizes or where one was lost; a
    frame whose anchor detection missed is located like the others (lost only if that fails too)."""
    n = len(frames)
    f = _Follower(frames, detect, opts)
    anchor = next((i for i in dict.fromkeys([(n - 1) // 2, *keyframe_positions(n, 10)])
                   if f.detect_at(i) is not None), None)
    if anchor is None:
        return f.boxes, f.how
    # frames tried as anchor before it: one missed detection is no lost face; they are tracked
    # (and detected again where that fails) like every other frame
    missed = [i for i in range(n) if f.how[i] == LOST]
    step = max(1, opts.track_step)
    grid = sorted({*range(anchor % step, n, step), 0, n - 1})
    for side in ([g for g in grid if g > anchor], [g for g in reversed(grid) if g < anchor]):
        for i in side:  # outwards from the anchor: each search starts at the last box found
            f.locate(i)
    for a, b in zip(grid, grid[1:]):
        if b - a < 2:
            continue
        if f.boxes[a] is not None and f.boxes[b] is not None and _moved(f.boxes[a], f.boxes[b]) <= opts.refine:
            continue  # a still face: the frames between are interpolated
        for i in range(a + 1, b):
            f.locate(i)
    for i in missed:
        if i not in f.located:  # off the grid, between two frames that agree
            f.locate(i)
    return f.boxes, f.how


STRATEGIES: dict[str, Strategy] = {"track": locate_track, "keyframes": locate_keyframes, "every": locate_every}
assert tuple(STRATEGIES) == FACE_STRATEGIES


def locate_faces(frames: list, detect: FaceDetector, strategy: str, options: FaceConfig = FaceConfig(),
                 probes: int = 10) -> tuple[list[Box | None], np.ndarray]:
    """Per sampled frame, the box of the speaker's face or None (to be filled by interpolation),
    and how it was found (:data:`avemo.features.schema.LOCATED` codes).

    When the strategy finds no face at all, up to ``probes`` evenly spaced frames it did not try
    are searched; :class:`NoFaceError` when none of them holds a face either.
    """
    locate = STRATEGIES.get(strategy)
    if locate is None:
        raise ConfigError(f"faces.strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    boxes, how = locate(frames, detect, options)
    if any(b is not None for b in boxes):
        return boxes, how
    for i in keyframe_positions(len(frames), probes):
        if how[i] == INTERPOLATED:  # not searched yet
            boxes[i] = largest(detect(image_of(frames[i])))
            how[i] = DETECTED if boxes[i] is not None else LOST
    if all(b is None for b in boxes):
        raise NoFaceError(f"no face found in any of {int(np.sum(how == LOST))} sampled frames checked")
    return boxes, how
