"""Video decoding for the face stage: the uniformly sampled frames of a clip, and no more.

The file is opened and demuxed once (compressed packets are small), the frame count is the
number of video packets, and only the sampled frames are kept, as views of their decoded YUV
planes: the detector reads the luma plane (made contiguous for dlib on first use) and only the
face regions are converted to RGB. A one-minute clip costs the memory of 50 frames; frames that
are only cropped are never copied (at 720p the copies cost as much as the detection).
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np

from avemo.errors import MediaError
from avemo.pipeline.media import check_file, open_video


def sample_indices(n_frames: int, n: int) -> np.ndarray:
    """``round(linspace(0, n_frames - 1, n))``: uniform over the clip; short clips repeat frames."""
    return np.round(np.linspace(0, n_frames - 1, n)).astype(np.int64)


class Frame:
    """One decoded picture: luma for detection, RGB of any region for crops."""

    def __init__(self, frame: av.VideoFrame):
        self.height, self.width = frame.height, frame.width
        self._fast = frame.format.name == "yuv420p" and self.width % 2 == 0 and self.height % 2 == 0
        if self._fast:
            # views into the decoded picture (kept alive by holding the frame): the planes of a
            # frame that is only cropped are never copied (at 720p the copies cost as much as
            # detection); luma is made contiguous for dlib when first asked for
            self._frame = frame
            self._planes = [np.frombuffer(p, np.uint8, count=p.line_size * p.height)
                            .reshape(p.height, p.line_size)[:, :p.width] for p in frame.planes]
            self._gray: np.ndarray | None = None
        else:  # contiguous: PyAV 18 returns rows with the picture's line padding, which dlib refuses
            self._rgb = np.ascontiguousarray(frame.to_ndarray(format="rgb24"))

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    def gray(self) -> np.ndarray:
        """(H, W) uint8 luma (contiguous, for dlib; shared, not to be written to)."""
        if self._fast:
            if self._gray is None:
                self._gray = np.ascontiguousarray(self._planes[0])
            return self._gray
        return cv2.cvtColor(self._rgb, cv2.COLOR_RGB2GRAY)

    def rgb(self, x0: int = 0, y0: int = 0, x1: int | None = None, y1: int | None = None) -> np.ndarray:
        """(y1-y0, x1-x0, 3) uint8 RGB of a region inside the frame (BT.601, as FFmpeg)."""
        x1 = self.width if x1 is None else x1
        y1 = self.height if y1 is None else y1
        if not self._fast:
            return self._rgb[y0:y1, x0:x1]
        ex0, ey0 = x0 - x0 % 2, y0 - y0 % 2
        ex1, ey1 = x1 + x1 % 2, y1 + y1 % 2
        y, u, v = self._planes
        w, h = ex1 - ex0, ey1 - ey0
        i420 = np.concatenate([y[ey0:ey1, ex0:ex1].ravel(), u[ey0 // 2:ey1 // 2, ex0 // 2:ex1 // 2].ravel(),
                               v[ey0 // 2:ey1 // 2, ex0 // 2:ex1 // 2].ravel()]).reshape(h * 3 // 2, w)
        out = cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
        return out[y0 - ey0:y0 - ey0 + (y1 - y0), x0 - ex0:x0 - ex0 + (x1 - x0)]


def squares(frames: list, corners: list[tuple[int, int, int]], size: int) -> np.ndarray:
    """(n, size, size, 3) uint8 RGB: for each frame (a :class:`Frame` or an (H, W, 3) RGB array)
    its square ``(x0, y0, side)``, black where it lies outside the frame, anti-aliased.

    YUV frames: luma resized to 2*size and chroma to size (I420 geometry), converted once, then
    an exact 2:1 area average (cheaper than converting the whole square first). A frame asked
    twice for one square is cropped once, and YUV frames with the same side are cropped as one
    stack, one OpenCV call per step: for sides >= 2*size (shrinking) bilinear weights never
    reach across stacked patches, so the crops are the same bytes as one at a time, and faster
    (docs/faces.md).
    """
    out = np.empty((len(frames), size, size, 3), np.uint8)
    done: dict[tuple, int] = {}
    repeats: list[tuple[int, int]] = []
    stacks: dict[tuple, list[tuple[int, int, int]]] = {}
    for i, (frame, (x0, y0, side)) in enumerate(zip(frames, corners)):
        yuv = isinstance(frame, Frame) and frame._fast
        if yuv:
            x0, y0, side = x0 - x0 % 2, y0 - y0 % 2, side + side % 2  # chroma sites are 2x2
        key = (id(frame), x0, y0, side)
        if key in done:
            repeats.append((i, done[key]))
            continue
        done[key] = i
        if yuv:
            stacks.setdefault((side,) if side >= 2 * size else (side, i), []).append((i, x0, y0))
        else:
            out[i] = _square_rgb(frame if isinstance(frame, np.ndarray) else frame._rgb, x0, y0, side, size)
    for key, items in stacks.items():
        side = key[0]
        step = max(1, (1 << 20) // (side * side))  # ~1 MB of luma per stack
        for k in range(0, len(items), step):
            chunk = items[k:k + step]
            out[[i for i, _, _ in chunk]] = _yuv_squares([frames[i] for i, _, _ in chunk],
                                                         [(x0, y0) for _, x0, y0 in chunk], side, size)
    for i, j in repeats:
        out[i] = out[j]
    return out


def _yuv_squares(frames: list[Frame], corners: list[tuple[int, int]], side: int, size: int) -> np.ndarray:
    """The squares of even ``side`` at even corners of YUV frames, stacked -> (k, size, size, 3)."""
    k, half = len(frames), side // 2
    luma = np.empty((k * side, side), np.uint8)
    chroma = np.empty((2, k * half, half), np.uint8)
    for j, (frame, (x0, y0)) in enumerate(zip(frames, corners)):
        y, u, v = frame._planes
        luma[j * side:(j + 1) * side] = _plane_patch(y, x0, y0, side, 16)
        chroma[0, j * half:(j + 1) * half] = _plane_patch(u, x0 // 2, y0 // 2, half, 128)
        chroma[1, j * half:(j + 1) * half] = _plane_patch(v, x0 // 2, y0 // 2, half, 128)
    i420 = np.empty((k * 3 * size, 2 * size), np.uint8)  # Y (2k*size, 2*size), then U, V (k*size, size)
    flat, n_y, n_c = i420.reshape(-1), k * 4 * size * size, k * size * size
    cv2.resize(luma, (2 * size, 2 * k * size), dst=flat[:n_y].reshape(2 * k * size, 2 * size),
               interpolation=cv2.INTER_LINEAR)
    for c in range(2):
        cv2.resize(chroma[c], (size, k * size), dst=flat[n_y + c * n_c:n_y + (c + 1) * n_c].reshape(k * size, size),
                   interpolation=cv2.INTER_LINEAR)
    rgb = cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
    return cv2.resize(rgb, (size, k * size), interpolation=cv2.INTER_AREA).reshape(k, size, size, 3)


def _plane_patch(plane: np.ndarray, x0: int, y0: int, side: int, fill: int) -> np.ndarray:
    """plane[y0:y0+side, x0:x0+side], padded with ``fill`` where it lies outside the plane."""
    h, w = plane.shape[:2]
    ix0, iy0, ix1, iy1 = max(0, x0), max(0, y0), min(w, x0 + side), min(h, y0 + side)
    if ix1 <= ix0 or iy1 <= iy0:
        return np.full((side, side) + plane.shape[2:], fill, np.uint8)
    patch = plane[iy0:iy1, ix0:ix1]
    if (ix0, iy0, ix1, iy1) != (x0, y0, x0 + side, y0 + side):
        patch = cv2.copyMakeBorder(patch, iy0 - y0, y0 + side - iy1, ix0 - x0, x0 + side - ix1,
                                   cv2.BORDER_CONSTANT, value=(fill, fill, fill))
    return patch


def _square_rgb(rgb: np.ndarray, x0: int, y0: int, side: int, size: int) -> np.ndarray:
    """The same square from an RGB array (frames that are not even-sized yuv420p)."""
    patch = _plane_patch(rgb, x0, y0, side, 0)
    patch = cv2.resize(patch, (2 * size, 2 * size), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA)


def read_sampled_frames(path: str | Path, n: int) -> tuple[list[Frame], int]:
    """``n`` frames sampled uniformly over the clip (repeats share one object), and its frame count.

    A truncated file keeps the frames that decode (sampled over those); a file with no
    decodable frame raises :class:`MediaError`.
    """
    container, stream = open_video(check_file(path))
    with container:
        packets = []
        try:
            for packet in container.demux(stream):
                if packet.size:
                    packets.append(packet)
        except (av.error.FFmpegError, ValueError):
            pass  # a truncated file: decode what was read
        wanted = set(sample_indices(len(packets), n).tolist()) if packets else set()
        pictures = (frame for packet in [*packets, None] for frame in stream.decode(packet))
        kept, decoded = _keep(pictures, wanted)
    if decoded == 0:
        raise MediaError(f"{path}: no video frame can be decoded")
    if decoded != len(packets):  # some packets held no picture, or decoding broke off
        return _resample_decoded(path, decoded, n), decoded
    idx = sample_indices(decoded, n)
    return [kept[i] for i in idx], decoded


def _keep(pictures, wanted: set[int]) -> tuple[dict[int, Frame], int]:
    """Run the decoder to the end (or to the first error): the wanted pictures, and the count."""
    kept: dict[int, Frame] = {}
    count = 0
    try:
        for frame in pictures:
            if count in wanted:
                kept[count] = Frame(frame)
            count += 1
    except (av.error.FFmpegError, ValueError):
        pass  # decoding broke off: keep what came before
    return kept, count


def _resample_decoded(path: Path, decoded: int, n: int) -> list[Frame]:
    """Second pass when packets and pictures disagree: sample over the pictures that decode."""
    idx = sample_indices(decoded, n)
    wanted = set(idx.tolist())
    container, stream = open_video(path)
    with container:
        kept, i = _keep(container.decode(stream), wanted)
    if not wanted <= kept.keys():
        raise MediaError(f"{path}: decoding is not repeatable ({decoded} then {i} frames)")
    return [kept[j] for j in idx]


def source_frames(path: str | Path, n: int) -> list[np.ndarray] | None:
    """The clip's ``n`` sampled frames as (H, W, 3) RGB arrays, or None when the file is gone
    or cannot be decoded (for pictures of a stored clip, which must not fail on that)."""
    if not Path(path).is_file():
        return None
    try:
        frames, _ = read_sampled_frames(path, n)
    except MediaError:
        return None
    return [f.rgb() for f in frames]
