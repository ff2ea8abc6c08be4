"""The face stage's per-clip work: locate the face on the sampled frames, fill the frames
without a box, square and crop (docs/architecture.md, faces contract).

Boxes are (x0, y0, x1, y1) float source pixels. Where to look is a strategy of
:mod:`avemo.pipeline.locate`; which detector looks is :mod:`avemo.pipeline.detectors`; this
module is the processor: interpolation in source time, optional smoothing, square crops padded
black past the frame edge (never stretched), optional eye alignment.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from avemo.features.schema import DETECTED
from avemo.pipeline.boxes import interpolate, smooth
from avemo.pipeline.config import FaceConfig
from avemo.pipeline.detectors import eye_angle, gray_of, make_detector
from avemo.pipeline.locate import locate_faces
from avemo.pipeline.video import read_sampled_frames, sample_indices, squares


def square_of(box: np.ndarray, margin: float) -> tuple[int, int, int]:
    """(x0, y0, side) of the square around ``box`` grown by ``margin`` of its size on each side."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = max(int(round(max(box[2] - box[0], box[3] - box[1]) * (1 + 2 * margin))), 2)
    return int(round(cx - side / 2)), int(round(cy - side / 2)), side


def crop_squares(frames: list, boxes: np.ndarray, margin: float, size: int) -> np.ndarray:
    """Square crops around ``boxes`` grown by ``margin`` on each side, black past the frame edge
    (padded, never stretched) -> (n, size, size, 3) uint8 RGB, anti-aliased.

    ``frames`` are :class:`avemo.pipeline.video.Frame` objects or (H, W, 3) RGB arrays."""
    return squares(frames, [square_of(b, margin) for b in boxes], size)


def crop_square(frame, box: np.ndarray, margin: float, size: int) -> np.ndarray:
    """One frame's :func:`crop_squares`."""
    return crop_squares([frame], [box], margin, size)[0]


def crop_aligned(frame, box: np.ndarray, margin: float, size: int, angle: float) -> np.ndarray:
    """Like :func:`crop_square`, rotated by ``angle`` degrees about the box centre so that the
    eyes are level: the square of side ``side * sqrt 2`` is taken (padded black past the
    frame), scaled to the output resolution (anti-aliased), rotated, and its centre cut out."""
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
ALGORITHM_VERSION = 6


def face_track(path: str | Path, config: FaceConfig) -> dict[str, np.ndarray]:
    """One clip's face tensors: ``frames`` (n, size, size, 3) uint8 RGB, ``boxes`` (n, 4)
    float32 source pixels, ``detected`` (n,) bool, ``located`` (n,) uint8 (how each box was
    found: :data:`avemo.features.schema.LOCATED`). Raises MediaError / NoFaceError."""
    frames, n_source = read_sampled_frames(path, config.n_frames)
    return track_frames(frames, n_source, config)


def track_frames(frames: list, n_source: int, config: FaceConfig) -> dict[str, np.ndarray]:
    """:func:`face_track` of frames already sampled (``config.n_frames`` of a clip of ``n_source``
    frames, as :func:`avemo.pipeline.video.sample_indices` picks them): a window of a long
    recording (``avemo predict``) is cropped exactly as a stored clip."""
    detect = make_detector(config.detector, config.upsample)
    found, located = locate_faces(frames, detect, config.strategy, config)
    boxes = smooth(interpolate(found, sample_indices(n_source, config.n_frames)), config.smooth)
    if config.align:
        angles = np.array([eye_angle(gray_of(f), b) for f, b in zip(frames, boxes)], np.float32)
        angles = smooth(np.repeat(angles[:, None], 4, axis=1), config.smooth)[:, 0]
        crops = np.stack([crop_aligned(f, b, config.margin, config.size, a) for f, b, a in zip(frames, boxes, angles)])
    else:
        crops = crop_squares(frames, boxes, config.margin, config.size)
    return {"frames": crops, "boxes": boxes,
            "detected": located == DETECTED, "located": located}
