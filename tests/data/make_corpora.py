"""Re-make the RAVDESS-style and labels-csv test media from the six real CREMA-D clips.

    .venv/bin/python tests/data/make_corpora.py   # writes tests/data/ravdess and tests/data/labels-csv

The output is committed (SOURCE.md in each folder says what it is); this script documents how it
was made and re-makes it. Pseudo-actors are the one real actor (1001) placed at different
positions, mirrored and lit differently, so that actor-disjoint splits have several actors.
"""

from __future__ import annotations

import shutil
import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
CREMA = HERE / "crema-d"
#: RAVDESS emotion codes of CREMA-D's six.
RAVDESS_CODE = {"NEU": "01", "HAP": "03", "SAD": "04", "ANG": "05", "FEA": "06", "DIS": "07"}


def source_frames(emotion: str) -> list[np.ndarray]:
    with av.open(str(CREMA / "VideoFlash" / f"1001_DFA_{emotion}_XX.flv")) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def source_audio(emotion: str) -> tuple[np.ndarray, int]:
    """The FLV's own (MP3, 44.1 kHz) track as float32 (channels, n)."""
    with av.open(str(CREMA / "VideoFlash" / f"1001_DFA_{emotion}_XX.flv")) as c:
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        chunks = [f.to_ndarray().reshape(-1, f.samples) for f in c.decode(stream)]
    return np.concatenate(chunks, axis=1).astype(np.float32), rate


def place(frame: np.ndarray, width: int, height: int, x: float, mirror: bool, gain: float) -> np.ndarray:
    """The 4:3 source scaled to the output height, at horizontal position ``x`` (0..1) on black."""
    src = frame[:, ::-1] if mirror else frame
    w = round(src.shape[1] * height / src.shape[0])
    scaled = cv2.resize(src, (w, height), interpolation=cv2.INTER_CUBIC)
    out = np.zeros((height, width, 3), np.uint8)
    x0 = round((width - w) * x)
    out[:, x0:x0 + w] = np.clip(scaled.astype(np.float32) * gain, 0, 255).astype(np.uint8)
    return out


def resample(audio: np.ndarray, rate: int, to: int) -> np.ndarray:
    import librosa

    return np.stack([librosa.resample(ch, orig_sr=rate, target_sr=to) for ch in audio]).astype(np.float32)


def write(path: Path, frames: list[np.ndarray] | None, fps: int, codec: str, audio: tuple[np.ndarray, int] | None,
          audio_codec: str = "aac", crf: int = 30) -> None:
    """Encode ``frames`` (RGB) at ``fps`` and ``audio`` ((channels, n) float at its rate) into one file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        vs = None
        if frames is not None:
            vs = out.add_stream(codec, rate=fps)
            vs.height, vs.width = frames[0].shape[:2]
            vs.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
            if codec == "libx264":
                vs.options = {"crf": str(crf), "preset": "medium"}
            else:  # MPEG-4 part 2, MJPEG: a bit rate that keeps the files small
                vs.bit_rate = 300_000 if codec == "mpeg4" else 600_000
        aus = None
        if audio is not None:
            samples, rate = audio
            aus = out.add_stream(audio_codec, rate=rate)
            aus.layout = "stereo" if samples.shape[0] == 2 else "mono"
        if vs is not None:
            for i, img in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts = i
                frame.time_base = Fraction(1, fps)
                out.mux(vs.encode(frame))
            out.mux(vs.encode())
        if aus is not None:
            samples, rate = audio
            fmt = "s16" if audio_codec.startswith("pcm") else "fltp"
            step = 1024
            for a in range(0, samples.shape[1], step):
                block = samples[:, a:a + step]
                if fmt == "s16":
                    data = (np.clip(block, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
                    af = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format="s16", layout=aus.layout.name)
                else:
                    af = av.AudioFrame.from_ndarray(np.ascontiguousarray(block), format="fltp", layout=aus.layout.name)
                af.sample_rate = rate
                af.pts = a
                af.time_base = Fraction(1, rate)
                out.mux(aus.encode(af))
            out.mux(aus.encode())


def make_ravdess(root: Path) -> None:
    """Four pseudo-actors (01 and 03 male, 02 and 04 female, as RAVDESS' odd/even rule) with the six
    shared emotions as 1280x720 H.264 at 30 fps with 48 kHz AAC inside; plus the files the
    manifest must sort out: calm and surprised clips, a song, a video-only file with its audio-only WAV."""
    shutil.rmtree(root, ignore_errors=True)
    looks = {1: (0.15, False, 1.0), 2: (0.55, True, 0.85), 3: (0.85, False, 1.15), 4: (0.35, True, 0.95)}
    frames = {e: source_frames(e) for e in RAVDESS_CODE}
    audio = {e: resample(*source_audio(e), 48000) for e in RAVDESS_CODE}
    for actor, (x, mirror, gain) in looks.items():
        for emotion, code in RAVDESS_CODE.items():
            name = f"01-01-{code}-01-01-01-{actor:02d}.mp4"
            write(root / f"Actor_{actor:02d}" / name, [place(f, 1280, 720, x, mirror, gain) for f in frames[emotion]],
                  30, "libx264", (audio[emotion], 48000))
    one = root / "Actor_01"
    x, mirror, gain = looks[1]
    view = [place(f, 1280, 720, x, mirror, gain) for f in frames["NEU"]]
    write(one / "01-01-02-01-01-01-01.mp4", view, 30, "libx264", (audio["NEU"], 48000))  # calm
    write(one / "01-02-03-01-01-01-01.mp4", view, 30, "libx264", (audio["NEU"], 48000))  # song
    fear = [place(f, 1280, 720, x, mirror, gain) for f in frames["FEA"]]
    write(one / "01-01-08-01-01-01-01.mp4", fear, 30, "libx264", (audio["FEA"], 48000))  # surprised
    # video-only (02) with its audio-only (03) WAV, as RAVDESS ships them
    write(one / "02-01-05-02-01-01-01.mp4", [place(f, 1280, 720, x, mirror, gain) for f in frames["ANG"]],
          30, "libx264", None)
    write(one / "03-01-05-02-01-01-01.wav", None, 30, "", (audio["ANG"][:1], 48000), audio_codec="pcm_s16le")


def make_labels_csv(root: Path) -> None:
    """A lab's own recordings: three speakers, three labels named in words, mixed containers
    (MPEG-4 part 2 in MP4 at 25 fps, MJPEG in AVI at 60 fps, H.264 in MKV without audio plus a
    same-named WAV beside it), listed in labels.csv."""
    shutil.rmtree(root, ignore_errors=True)
    rows = ["path,label,speaker,sex"]
    words = {"ANG": "angry", "HAP": "happy", "SAD": "sad"}
    for emotion, word in words.items():
        frames = source_frames(emotion)
        samples, rate = source_audio(emotion)
        a = root / "lab_a" / f"take_{word}.mp4"
        write(a, [place(f, 640, 480, 0.5, False, 1.0) for f in frames], 25, "mpeg4", (samples, rate))
        b = root / "lab_b" / f"take_{word}.avi"
        slow = [place(f, 320, 240, 0.3, True, 0.9) for f in frames for _ in range(2)]
        write(b, slow, 60, "mjpeg", (resample(samples, rate, 16000)[:1], 16000), audio_codec="pcm_s16le")
        c = root / "lab_c" / f"take_{word}.mkv"
        write(c, [place(f, 854, 480, 0.7, False, 1.1) for f in frames], 30, "libx264", None)
        write(c.with_suffix(".wav"), None, 30, "", (resample(samples, rate, 22050)[:1], 22050), audio_codec="pcm_s16le")
        rows += [f"lab_a/take_{word}.mp4,{word},A,female", f"lab_b/take_{word}.avi,{word},B,male",
                 f"lab_c/take_{word}.mkv,{word},C,"]
    (root / "labels.csv").write_text("\n".join(rows) + "\n")


def main() -> int:
    make_ravdess(HERE / "ravdess")
    make_labels_csv(HERE / "labels-csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
