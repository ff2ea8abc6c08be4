"""Face crops: detectors map frames to boxes; the processor fills gaps, squares and crops.

Detection apart from processing (DESIGN.md habit 11). Boxes are (x0, y0, x1, y1) float
source pixels. Strategies, by cost:

- ``every``: full-resolution detection on each sampled frame (the reference; ~23x decode time).
- ``keyframes``: full-resolution detection on ``keyframes`` evenly spaced frames, interpolated.
- ``track`` (default): one keyframe detected on dlib's own 5/6-size pyramid level
  (:func:`_level1`, exact for faces found on level 2 and deeper, >= 104-px boxes; smaller
  faces get full-size detection); the face found there is tracked onto the other
  keyframes by normalised cross-correlation (:func:`track_face`, ~0.1 ms each); a keyframe
  where the match is weak (the face changed size, turned, left) gets a detection of its own;
  interpolated in between.
  Detection never runs on a plainly downscaled frame: dlib's HOG window is 80 px and CREMA-D
  faces ~100 px, so on a half-size frame the face is below the window and boxes come back
  ~40% too large.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from pipeline.errors import ConfigError, NoFaceError

Box = tuple[float, float, float, float]


class FaceDetector(Protocol):
    """Maps an image (gray or RGB uint8) to every face box found in it."""

    def __call__(self, image: np.ndarray) -> list[Box]: ...


@lru_cache(maxsize=4)
def _hog():
    import dlib

    return dlib.get_frontal_face_detector()


@dataclass(frozen=True)
class HogDetector:
    """dlib's frontal HOG + linear SVM detector; ``upsample`` doubles the image that many times
    (finds faces smaller than the 80 px window, at 4x the cost each)."""

    upsample: int = 0

    def __call__(self, image: np.ndarray) -> list[Box]:
        return [(float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1))
                for r in _hog()(image, self.upsample)]


def _model_file(name: str, needed_for: str) -> Path:
    """A model file of the face-recognition-models package (found without importing it: its
    ``__init__`` pulls in pkg_resources)."""
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"{needed_for} needs the face-recognition-models package (pip install "
                          "'avemo[models]' or face-recognition-models)")
    return Path(list(spec.submodule_search_locations)[0]) / "models" / name


@lru_cache(maxsize=1)
def _mmod():
    import dlib

    return dlib.cnn_face_detection_model_v1(str(_model_file("mmod_human_face_detector.dat",
                                                            "faces.detector=cnn (else use hog)")))


@lru_cache(maxsize=1)
def _landmarks68():
    import dlib

    return dlib.shape_predictor(str(_model_file("shape_predictor_68_face_landmarks.dat", "faces.align=true")))


def eye_angle(gray: np.ndarray, box: Box) -> float:
    """Roll of the face in ``box``, in degrees: the angle of the line from the image-left eye
    centre to the image-right eye centre (68-point landmarks 36-41 and 42-47; positive when
    the image-right eye is lower)."""
    import dlib

    rect = dlib.rectangle(int(round(box[0])), int(round(box[1])), int(round(box[2])) - 1, int(round(box[3])) - 1)
    shape = _landmarks68()(gray, rect)
    pts = np.array([(shape.part(i).x, shape.part(i).y) for i in range(36, 48)], np.float64)
    (lx, ly), (rx, ry) = pts[:6].mean(axis=0), pts[6:].mean(axis=0)
    return float(np.degrees(np.arctan2(ry - ly, rx - lx)))


@dataclass(frozen=True)
class CnnDetector:
    """dlib's CNN (MMOD) detector from face-recognition-models: more robust to pose, slow on CPU."""

    upsample: int = 0

    def __call__(self, image: np.ndarray) -> list[Box]:
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        return [(float(d.rect.left()), float(d.rect.top()), float(d.rect.right() + 1),
                 float(d.rect.bottom() + 1)) for d in _mmod()(image, self.upsample)]


def make_detector(name: str, upsample: int = 0) -> FaceDetector:
    if name == "hog":
        return HogDetector(upsample)
    if name == "cnn":
        return CnnDetector(upsample)
    raise ConfigError(f"faces.detector must be hog or cnn, got {name!r}")


# --- geometry ---------------------------------------------------------------------------------
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


def square_of(box: np.ndarray, margin: float) -> tuple[int, int, int]:
    """(x0, y0, side) of the square around ``box`` grown by ``margin`` of its size on each side."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = max(int(round(max(box[2] - box[0], box[3] - box[1]) * (1 + 2 * margin))), 2)
    return int(round(cx - side / 2)), int(round(cy - side / 2)), side


def crop_squares(frames: list, boxes: np.ndarray, margin: float, size: int) -> np.ndarray:
    """Square crops around ``boxes`` grown by ``margin`` on each side, black past the frame edge
    (padded, never stretched) -> (n, size, size, 3) uint8 RGB, anti-aliased.

    ``frames`` are :class:`pipeline.video.Frame` objects or (H, W, 3) RGB arrays."""
    from pipeline.video import squares

    return squares(frames, [square_of(b, margin) for b in boxes], size)


def crop_square(frame, box: np.ndarray, margin: float, size: int) -> np.ndarray:
    """One frame's :func:`crop_squares`."""
    return crop_squares([frame], [box], margin, size)[0]


def crop_aligned(frame, box: np.ndarray, margin: float, size: int, angle: float) -> np.ndarray:
    """Like :func:`crop_square`, rotated by ``angle`` degrees about the box centre so that the
    eyes are level: the square of side ``side * sqrt 2`` is taken (padded black past the
    frame), scaled to the output resolution (anti-aliased), rotated, and its centre cut out."""
    from pipeline.video import squares

    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = square_of(box, margin)[2]
    big = int(np.ceil(side * 1.4143)) + 2
    out_big = int(np.ceil(big * size / side))
    x0, y0 = int(round(cx - big / 2)), int(round(cy - big / 2))
    patch = squares([frame], [(x0, y0, big)], out_big)[0]
    c = out_big / 2
    rot = cv2.getRotationMatrix2D((c, c), angle, 1.0)
    rot[:, 2] += size / 2 - c
    return cv2.warpAffine(patch, rot, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(0, 0, 0))


#: Bumped whenever stored face tensors change for the same params: part of the store params,
#: so an existing store is rebuilt (DVC passes --force) instead of being resumed.
ALGORITHM_VERSION = 4

# --- locating the face over a clip -------------------------------------------------------------
def keyframe_positions(n: int, k: int) -> list[int]:
    """``k`` evenly spaced positions among ``n`` frames (both ends from k=2; the middle frame
    for k=1), the middle one first."""
    if k <= 1:
        return [(n - 1) // 2]
    pos = sorted(set(np.round(np.linspace(0, n - 1, min(k, n))).astype(int).tolist()))
    mid = pos[len(pos) // 2]
    return [mid] + [p for p in pos if p != mid]


def _gray(frame) -> np.ndarray:
    if isinstance(frame, np.ndarray):
        return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return frame.gray()


@lru_cache(maxsize=1)
def _pyramid():
    import dlib

    return dlib.pyramid_down(6)


#: Side of dlib's frontal HOG boxes on the pyramid level they are found on (80-px window).
_HOG_BOX = 72


def _level1(detect: FaceDetector, gray: np.ndarray) -> Box | None:
    """The largest face as full-size detection finds it, for faces found on pyramid level 2 or
    deeper (boxes of >= 104 px), else None (the caller then runs full-size detection).

    dlib's HOG and MMOD detectors scan a 5/6-per-level pyramid, so detecting on the image
    already reduced by dlib's own ``pyramid_down(6)`` and mapping the box up with its
    ``rect_up`` repeats pyramid levels 1.. exactly (IoU 0.99 on CREMA-D) and skips level 0,
    ~30% of the work. A face found on level 1 itself (an 86-88 px box) can also fire on level 0
    (a 72 px box), and full-size detection keeps whichever scores higher: such a box is not
    returned (on a jittered demo corpus, 8 of 180 clips' faces were of this size, and for all 8
    full-size detection kept the level-0 box, IoU 0.7 to the level-1 one)."""
    import dlib

    found = largest(detect(_pyramid()(gray)))
    if found is None or found[2] - found[0] < _HOG_BOX * 1.1:  # on level 1 itself
        return None
    r = _pyramid().rect_up(dlib.rectangle(int(found[0]), int(found[1]), int(found[2]) - 1, int(found[3]) - 1))
    return (float(r.left()), float(r.top()), float(r.right() + 1), float(r.bottom() + 1))


#: Templates are matched at a scale that makes them this wide (px): the cost is the same for
#: any face size, and positions are still found to a fraction of a source pixel.
TRACK_WIDTH = 48


def track_face(ref: np.ndarray, box: Box, gray: np.ndarray, near: Box, margin: float,
               min_ncc: float) -> Box | None:
    """``box`` (the face in the gray frame ``ref``) moved to where that face is in ``gray``,
    searched within ``near`` grown by ``margin`` face sizes; None when the best normalised
    cross-correlation is below ``min_ncc`` (the face changed or left: detect there instead).

    Both images are area-reduced so that the template is :data:`TRACK_WIDTH` px wide, matched
    with OpenCV's ``TM_CCOEFF_NORMED``, and the peak refined to sub-pixel by a parabola:
    ~0.1 ms, where a detection costs ~5 ms. Translation only: the size stays
    ``box``'s, so a face that grows or shrinks a lot scores low and gets a detection."""
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


def _anchor(detect: FaceDetector, gray: np.ndarray) -> Box | None:
    """The largest face of a frame as full-frame detection finds it (pyramid levels 2.. first,
    via :func:`_level1`; the whole pyramid when that cannot tell)."""
    return _level1(detect, gray) or largest(detect(gray))


def locate_faces(frames: list, detect: FaceDetector, strategy: str, keyframes: int,
                 roi_margin: float, track_ncc: float = 0.7,
                 probes: int = 10) -> tuple[list[Box | None], list[bool]]:
    """Per sampled frame, the box of the speaker's face or None (to be interpolated), and
    whether the box came from a detection (else from tracking).

    ``roi_margin``: how far (in face sizes) past the nearest known box ``track`` searches a
    keyframe. ``track_ncc``: the least correlation at which a tracked keyframe is kept.

    Raises :class:`NoFaceError` when no face is found on any tried frame (at least ``probes``).
    """
    n = len(frames)
    boxes: list[Box | None] = [None] * n
    detected = [False] * n
    if strategy == "every":
        for i, f in enumerate(frames):
            boxes[i] = largest(detect(_gray(f)))
    elif strategy == "keyframes":
        for i in keyframe_positions(n, keyframes):
            boxes[i] = largest(detect(_gray(frames[i])))
    elif strategy == "track":
        order = keyframe_positions(n, keyframes)
        anchor_at = None
        for i in order:  # the middle keyframe first; others only while no face is found
            boxes[i] = _anchor(detect, _gray(frames[i]))
            if boxes[i] is not None:
                anchor_at = i
                break
        if anchor_at is not None:
            detected[anchor_at] = True
            ref, face = _gray(frames[anchor_at]), boxes[anchor_at]
            for i in sorted(order, key=lambda p: abs(p - anchor_at)):  # outwards from the anchor
                if i in order[:order.index(anchor_at) + 1]:
                    continue
                near = boxes[min((j for j, b in enumerate(boxes) if b is not None), key=lambda j: abs(j - i))]
                gray = _gray(frames[i])
                boxes[i] = track_face(ref, face, gray, near, roi_margin, track_ncc)
                if boxes[i] is None:  # the face changed or left: a detection decides
                    boxes[i] = _anchor(detect, gray)
                    detected[i] = boxes[i] is not None
    else:
        raise ConfigError(f"faces.strategy must be track, keyframes or every, got {strategy!r}")
    if all(b is None for b in boxes):
        tried = {i for i in range(n) if strategy == "every"} | set(keyframe_positions(n, keyframes))
        for i in keyframe_positions(n, probes):
            if i not in tried:
                boxes[i] = largest(detect(_gray(frames[i])))
        if all(b is None for b in boxes):
            raise NoFaceError(f"no face found in any of {len(tried | set(keyframe_positions(n, probes)))} "
                              f"sampled frames checked")
    if strategy != "track" or not any(detected):  # every box so far came from a detection
        detected = [b is not None for b in boxes]
    return boxes, detected


def face_track(path: str | Path, config) -> dict[str, np.ndarray]:
    """One clip's face tensors: ``frames`` (n, size, size, 3) uint8 RGB, ``boxes`` (n, 4)
    float32 source pixels, ``detected`` (n,) bool. Raises MediaError / NoFaceError."""
    from pipeline.video import read_sampled_frames, sample_indices

    frames, n_source = read_sampled_frames(path, config.n_frames)
    detect = make_detector(config.detector, config.upsample)
    found, detected = locate_faces(frames, detect, config.strategy, config.keyframes, config.roi_margin,
                                   config.track_ncc)
    boxes = smooth(interpolate(found, sample_indices(n_source, config.n_frames)), config.smooth)
    if config.align:
        angles = np.array([eye_angle(_gray(f), b) for f, b in zip(frames, boxes)], np.float32)
        angles = smooth(np.repeat(angles[:, None], 4, axis=1), config.smooth)[:, 0]
        crops = np.stack([crop_aligned(f, b, config.margin, config.size, a) for f, b, a in zip(frames, boxes, angles)])
    else:
        crops = crop_squares(frames, boxes, config.margin, config.size)
    return {"frames": crops, "boxes": boxes,
            "detected": np.array(detected, dtype=bool)}
