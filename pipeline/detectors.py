"""Face detectors: each maps an image (gray or RGB uint8) to every face box found in it.

Detection is kept apart from processing (docs/architecture.md): the strategies in
:mod:`avemo.pipeline.locate` decide where to look, the processor in
:mod:`avemo.pipeline.faces` fills gaps and crops, and either side can be swapped.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import cv2
import dlib
import numpy as np

from avemo.errors import ConfigError
from avemo.pipeline.config import FACE_DETECTORS
from avemo.pipeline.boxes import Box, largest


class FaceDetector(Protocol):
    """Maps an image (gray or RGB uint8) to every face box found in it."""

    def __call__(self, image: np.ndarray) -> list[Box]: ...


def box_of(rect) -> Box:
    """A dlib rectangle (inclusive right/bottom) as a box (x0, y0, x1, y1), exclusive ends."""
    return (float(rect.left()), float(rect.top()), float(rect.right() + 1), float(rect.bottom() + 1))


def rect_of(box: Box):
    """A box as the dlib rectangle :func:`box_of` maps back to it (rounded to whole pixels)."""
    return dlib.rectangle(int(round(box[0])), int(round(box[1])), int(round(box[2])) - 1, int(round(box[3])) - 1)


@lru_cache(maxsize=4)
def _hog():
    return dlib.get_frontal_face_detector()


@dataclass(frozen=True)
class HogDetector:
    """dlib's frontal HOG + linear SVM detector; ``upsample`` doubles the image that many times
    (finds faces smaller than the 80 px window, at 4x the cost each)."""

    upsample: int = 0

    def __call__(self, image: np.ndarray) -> list[Box]:
        return [box_of(r) for r in _hog()(image, self.upsample)]


def _model_file(name: str, needed_for: str) -> Path:
    """A model file of the face-recognition-models package (found without importing it: its
    ``__init__`` pulls in pkg_resources)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"{needed_for} needs the face-recognition-models package (pip install "
                          "'avemo[models]' or face-recognition-models)")
    return Path(list(spec.submodule_search_locations)[0]) / "models" / name


@lru_cache(maxsize=1)
def _mmod():
    return dlib.cnn_face_detection_model_v1(str(_model_file("mmod_human_face_detector.dat",
                                                            "faces.detector=cnn (else use hog)")))


@lru_cache(maxsize=1)
def _landmarks68():
    return dlib.shape_predictor(str(_model_file("shape_predictor_68_face_landmarks.dat", "faces.align=true")))


def eye_angle(gray: np.ndarray, box: Box) -> float:
    """Roll of the face in ``box``, in degrees: the angle of the line from the image-left eye
    centre to the image-right eye centre (68-point landmarks 36-41 and 42-47; positive when
    the image-right eye is lower)."""
    shape = _landmarks68()(gray, rect_of(box))
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
        return [box_of(d.rect) for d in _mmod()(image, self.upsample)]


#: ``faces.detector`` names -> detector classes.
DETECTORS: dict[str, type] = {"hog": HogDetector, "cnn": CnnDetector}
assert tuple(DETECTORS) == FACE_DETECTORS


def make_detector(name: str, upsample: int = 0) -> FaceDetector:
    if name not in DETECTORS:
        raise ConfigError(f"faces.detector must be one of {', '.join(DETECTORS)}, got {name!r}")
    return DETECTORS[name](upsample)


def image_of(frame) -> np.ndarray:
    """What a detector looks at: a decoded frame's RGB (an array is taken as it is). dlib's HOG
    takes each pixel's strongest gradient over the colour channels, so on RGB it finds the boxes
    per-frame detection on RGB finds; on luma alone a face near a pyramid level's boundary can
    come back one level larger (measured: docs/faces.md)."""
    if isinstance(frame, np.ndarray):
        return frame
    return frame.rgb()


def gray_of(frame) -> np.ndarray:
    if isinstance(frame, np.ndarray):
        return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    return frame.gray()


@lru_cache(maxsize=1)
def _pyramid():
    return dlib.pyramid_down(6)


#: Side of dlib's frontal HOG boxes on the pyramid level they are found on (80-px window).
_HOG_BOX = 72


#: Frames are reduced by pyramid levels until their short side would drop below this many px
#: (CREMA-D's 360-px frames: one level, as ever; 720p: four): the detector then scans only the
#: pyramid levels that find faces of a size a frame that large shows.
REDUCED_SIDE = 360


def reduction_levels(shape: tuple[int, ...]) -> int:
    """How many 5/6 pyramid levels :func:`reduced_detect` skips for a frame of ``shape``: 1 below
    518 px on the short side (CREMA-D's 360), one more per factor 6/5 above (720p: 3, 1080p: 6)."""
    side = min(shape[:2])
    levels = 1
    while side * (5 / 6) ** (levels + 1) >= REDUCED_SIDE:
        levels += 1
    return levels


def reduced_detect(detect: FaceDetector, gray: np.ndarray) -> Box | None:
    """The largest face as full-size detection finds it, for faces found on pyramid level L + 1 or
    deeper (L = :func:`reduction_levels`: boxes of >= 79 px on the reduced frame; 104 px at
    CREMA-D's size), else None (the caller then runs full-size detection).

    dlib's HOG and MMOD detectors scan a 5/6-per-level pyramid, so detecting on the image
    already reduced L times by dlib's own ``pyramid_down(6)`` and mapping the box up with its
    ``rect_up`` repeats pyramid levels L.. and skips the levels below, most of the work on a
    large frame (720p: two thirds of it). A face found on the reduced frame's own level 0 can also fire
    one level finer, and full-size detection keeps whichever scores higher: such a box is not
    returned. The measurements behind both rules are in docs/faces.md."""
    image = gray
    levels = reduction_levels(gray.shape)
    for _ in range(levels):
        image = _pyramid()(image)
    found = largest(detect(image))
    if found is None or found[2] - found[0] < _HOG_BOX * 1.1:  # on the reduced frame's level 0
        return None
    rect = rect_of(found)
    for _ in range(levels):
        rect = _pyramid().rect_up(rect)
    return box_of(rect)


def grid_step(detect: FaceDetector, box: Box) -> float | None:
    """The spacing of the positions the detector can put ``box`` at, in source pixels: dlib's
    HOG detector scans 8-px cells on the pyramid level whose 72-px box became ``box``, so its
    boxes of this size sit on a grid of side / 9 px. None for other detectors (no known grid)."""
    if isinstance(detect, HogDetector):
        return max(box[2] - box[0], box[3] - box[1]) * 8 / _HOG_BOX
    return None


def detect_largest(detect: FaceDetector, gray: np.ndarray) -> Box | None:
    """The largest face of a frame as full-frame detection finds it (the coarse pyramid levels
    first, via :func:`reduced_detect`; the whole pyramid when that cannot tell)."""
    return reduced_detect(detect, gray) or largest(detect(gray))
