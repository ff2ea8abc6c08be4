"""The demo corpus: a CREMA-D-shaped folder of pseudo-actors built from the six real clips.

Each pseudo-actor's clip of emotion E is the real clip of E under a seeded geometric and
photometric jitter (scale, rotation, shift, flip, brightness, contrast, tint, frame size),
a speed change and audio changes (gain, noise), so every later stage does real decoding,
real face detection and real MFCC, and a model can still learn the emotions. Demo scores
are a smoke test, not an emotion-recognition result.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import soundfile as sf

from avemo.corpus import DEMO_MARKER, REHEARSAL_MARKER, UNUSED_MARKER
from avemo.errors import CorpusError
from avemo.fileio import atomic_path, atomic_write
from avemo.metadata import clip_names as crema_d_clip_names
from avemo.names import ACTOR_MIN, EMOTIONS, SENTENCES, parse_clip_name
from avemo.pipeline.config import DemoConfig
from avemo.pipeline.media import read_video_frames

DEMO_SOURCE_ACTOR = "1001_DFA"
WAV_RATE = 16000
TRACK_RATE = 44100
FPS = Fraction(30000, 1001)
FRAME_SIZES = ((480, 360), (480, 360), (640, 480), (400, 300))  # (W, H): several "cameras"
NO_WAV_EVERY = 9  # every 9th clip has no WAV, so the video-track audio path is exercised


@dataclass(frozen=True)
class Jitter:
    """One clip's random changes; all drawn from a seed, so the corpus is reproducible."""

    scale: float
    angle: float
    shift: tuple[float, float]
    flip: bool
    contrast: float
    brightness: float
    tint: tuple[float, float, float]
    speed: float
    gain_db: float
    snr_db: float
    size: tuple[int, int]

    @classmethod
    def draw(cls, rng: np.random.Generator, size: tuple[int, int]) -> "Jitter":
        return cls(scale=float(rng.uniform(0.85, 1.1)), angle=float(rng.uniform(-6, 6)),
                   shift=(float(rng.uniform(-30, 30)), float(rng.uniform(-20, 20))),
                   flip=bool(rng.integers(2)), contrast=float(rng.uniform(0.8, 1.2)),
                   brightness=float(rng.uniform(-25, 25)),
                   tint=tuple(float(x) for x in rng.uniform(0.9, 1.1, 3)),  # type: ignore[arg-type]
                   speed=float(rng.uniform(0.9, 1.1)), gain_db=float(rng.uniform(-6, 3)),
                   snr_db=float(rng.uniform(25, 40)), size=size)


def _frames(frames: list[np.ndarray], j: Jitter) -> list[np.ndarray]:
    h, w = frames[0].shape[:2]
    out_w, out_h = j.size
    n_out = max(2, int(round(len(frames) / j.speed)))
    pick = np.round(np.linspace(0, len(frames) - 1, n_out)).astype(int)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), j.angle, j.scale * out_h / h)
    m[0, 2] += out_w / 2 - w / 2 + j.shift[0]
    m[1, 2] += out_h / 2 - h / 2 + j.shift[1]
    levels = np.arange(256, dtype=np.float32)[:, None]
    gain = np.array(j.tint, np.float32)[None, :] * j.contrast
    lut = np.clip(levels * gain + j.brightness, 0, 255).astype(np.uint8)[None]  # (1, 256, 3)
    result = []
    for i in pick:
        img = cv2.warpAffine(cv2.LUT(frames[i], lut), m, (out_w, out_h), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT101)
        result.append(cv2.flip(img, 1) if j.flip else img)
    return result


def _audio(y: np.ndarray, j: Jitter, rng: np.random.Generator) -> np.ndarray:
    """Speed change (by resampling, so audio and video stay in step), gain, white noise."""
    import librosa

    y = librosa.resample(y, orig_sr=WAV_RATE, target_sr=int(round(WAV_RATE / j.speed)),
                         res_type="soxr_hq")
    y = y * 10 ** (j.gain_db / 20)
    power = float(np.mean(y ** 2)) or 1e-8
    y = y + rng.normal(0, np.sqrt(power / 10 ** (j.snr_db / 10)), y.shape)
    return np.clip(y, -1, 1).astype(np.float32)


def _write_flv(path: Path, frames: list[np.ndarray], audio: np.ndarray) -> None:
    """FLV with FLV1 video and an MP3 track at 44.1 kHz (CREMA-D's FLVs are VP6 + MP3)."""
    import librosa

    with atomic_path(path) as tmp, av.open(str(tmp), "w", format="flv") as out:
        vs = out.add_stream("flv", rate=FPS)
        vs.width, vs.height = frames[0].shape[1], frames[0].shape[0]
        vs.pix_fmt, vs.bit_rate = "yuv420p", 900_000
        vs.codec_context.thread_count = 1
        aus = out.add_stream("libmp3lame", rate=TRACK_RATE)
        aus.layout, aus.bit_rate = "mono", 64_000
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            frame.pts = i
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode():
            out.mux(packet)
        track = librosa.resample(audio, orig_sr=WAV_RATE, target_sr=TRACK_RATE, res_type="soxr_hq")
        pcm = (np.clip(track, -1, 1) * 32767).astype(np.int16)[None, :]
        aframe = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        aframe.sample_rate, aframe.pts = TRACK_RATE, 0
        for packet in aus.encode(aframe):
            out.mux(packet)
        for packet in aus.encode():
            out.mux(packet)


def write_unused_placeholder(out: str | Path, corpus_root: str | Path) -> Path:
    """Replace ``out`` by a one-file placeholder saying the demo is not built because the
    pipeline's corpus is ``corpus_root``: DVC's demo stage then costs nothing on CREMA-D."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    note = out / UNUSED_MARKER
    atomic_write(note, f"The demo corpus is not built: corpus.root is {corpus_root}.\n"
                       f"Set corpus.root: {out} in params.yaml to use the demo corpus.\n")
    return note


def demo_clip_names(config: DemoConfig) -> list[tuple[str, str]]:
    """(clip id, source emotion) of every demo clip: each actor speaks each emotion once."""
    sentences = list(SENTENCES)
    return [(f"{actor}_{sentences[(actor - ACTOR_MIN) % len(sentences)]}_{emotion}_XX", emotion)
            for actor in range(ACTOR_MIN, ACTOR_MIN + config.actors) for emotion in EMOTIONS]


def _read_originals(source: Path) -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    originals = {}
    for emotion in EMOTIONS:
        flv = source / "VideoFlash" / f"{DEMO_SOURCE_ACTOR}_{emotion}_XX.flv"
        wav = source / "AudioWAV" / f"{DEMO_SOURCE_ACTOR}_{emotion}_XX.wav"
        for p in (flv, wav):
            if not p.is_file():
                raise CorpusError(f"demo source {p} is missing: --source must hold CREMA-D's "
                                  f"six {DEMO_SOURCE_ACTOR}_*_XX clips (tests/data/crema-d)")
        y, rate = sf.read(wav, dtype="float32", always_2d=True)
        if rate != WAV_RATE:
            raise CorpusError(f"demo source {wav} is {rate} Hz; expected {WAV_RATE} Hz")
        originals[emotion] = (read_video_frames(flv), y.mean(axis=1))
    return originals


def _make_clip(source: Path, out: Path, config: DemoConfig, i: int, clip_id: str,
               emotion: str, _cache: dict = {}) -> str:
    """Write one demo clip (a joblib task; each worker decodes the six originals once)."""
    key = str(source.resolve())
    if key not in _cache:
        _cache.clear()
        _cache[key] = _read_originals(source)
    frames, y = _cache[key][emotion]
    actor = int(clip_id[:4])
    rng = np.random.default_rng([config.seed, actor, EMOTIONS.index(emotion)])
    jitter = Jitter.draw(rng, FRAME_SIZES[(actor - ACTOR_MIN) % len(FRAME_SIZES)])
    audio = _audio(y, jitter, rng)
    _write_flv(out / "VideoFlash" / f"{clip_id}.flv", _frames(frames, jitter), audio)
    if i % NO_WAV_EVERY != NO_WAV_EVERY // 2:
        with atomic_path(out / "AudioWAV" / f"{clip_id}.wav") as tmp:
            sf.write(tmp, audio, WAV_RATE, subtype="PCM_16")
    return clip_id


def build_demo_corpus(source: str | Path, out: str | Path, config: DemoConfig = DemoConfig(),
                      jobs: int = 1, progress: bool = True) -> list[str]:
    """Write ``out/VideoFlash/*.flv`` and ``out/AudioWAV/*.wav``; return the clip ids.

    ``source`` is a folder with CREMA-D's six ``1001_DFA_<EMO>_XX`` clips (FLV + WAV).
    The output is byte-identical for the same source and config, whatever ``jobs``.
    """
    from joblib import Parallel, delayed
    from tqdm import tqdm

    source, out = Path(source), Path(out)
    _read_originals(source)  # fail early, naming a missing source file
    if out.exists():
        shutil.rmtree(out)
    (out / "VideoFlash").mkdir(parents=True)
    (out / "AudioWAV").mkdir(parents=True)
    atomic_write(out / DEMO_MARKER,
                 "avemo demo corpus: pseudo-actors made from six real CREMA-D clips of actor 1001.\n"
                 "Scores on it are a smoke test, not an emotion-recognition result.\n")
    names = demo_clip_names(config)
    tasks = (delayed(_make_clip)(source, out, config, i, c, e) for i, (c, e) in enumerate(names))
    done = Parallel(n_jobs=jobs, return_as="generator")(tasks)
    return list(tqdm(done, total=len(names), desc="demo corpus", unit="clip", disable=not progress))


#: Where the rehearsal corpus keeps its one render per actor and emotion (outside VideoFlash/
#: and AudioWAV/, so the manifest does not see them twice).
RENDERS = "renders"


def _link(src: Path, dst: Path) -> None:
    """A hard link (no extra disk), or a copy where the filesystem has none."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def build_rehearsal_corpus(source: str | Path, out: str | Path, seed: int = 0, jobs: int = 1,
                           actors: tuple[int, ...] | None = None, progress: bool = True) -> list[str]:
    """A CREMA-D-sized rehearsal corpus: every real CREMA-D clip name (7,442, from the bundled
    metadata) under ``out/VideoFlash`` and ``out/AudioWAV``, so that the real actors (with their
    real demographics), the split and every stage meet CREMA-D's real counts and sizes.

    Each actor's clips of one emotion are hard links to one render of the real clip of that
    emotion under that actor's own jitter (91 x 6 = 546 renders, in ``out/renders``): cheap to
    build and store, actor-disjoint splits stay meaningful, and no score on it means anything.
    ``actors``: only these actors' clips (tests). Same bytes for the same source and seed."""
    from joblib import Parallel, delayed
    from tqdm import tqdm

    source, out = Path(source), Path(out)
    _read_originals(source)
    names = [n for n in crema_d_clip_names() if actors is None or int(n[:4]) in actors]
    if out.exists():
        shutil.rmtree(out)
    for folder in ("VideoFlash", "AudioWAV", RENDERS):
        (out / folder).mkdir(parents=True)
    atomic_write(out / REHEARSAL_MARKER,
                 "avemo rehearsal corpus: every CREMA-D clip name, each a hard link to one render per actor\n"
                 "and emotion of six real clips of actor 1001. For scale tests only: scores mean nothing.\n")
    renders = sorted({(parse_clip_name(n).actor, parse_clip_name(n).emotion) for n in names})
    config = DemoConfig(actors=91, seed=seed)
    tasks = (delayed(_make_clip)(source, out / RENDERS, config, 0, f"{a}_DFA_{e}_XX", e) for a, e in renders)
    done = Parallel(n_jobs=jobs, return_as="generator")(tasks)
    for _ in tqdm(done, total=len(renders), desc="rehearsal renders", unit="clip", disable=not progress):
        pass
    for name in tqdm(names, desc="rehearsal names", unit="clip", disable=not progress):
        clip = parse_clip_name(name)
        render = f"{clip.actor}_DFA_{clip.emotion}_XX"
        _link(out / RENDERS / "VideoFlash" / f"{render}.flv", out / "VideoFlash" / f"{name}.flv")
        _link(out / RENDERS / "AudioWAV" / f"{render}.wav", out / "AudioWAV" / f"{name}.wav")
    return names
