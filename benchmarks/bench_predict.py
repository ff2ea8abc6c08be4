"""``avemo predict`` speed, in one run: a 5 s clip predicted against the extraction stages'
per-clip work plus one forward pass on the same clip (target <= 1.2x), and a one-minute
recording predicted window by window (default windows: 3 s every 1.5 s) against decoding it.

The model is an untrained maxpool model with a sidecar saying the default feature params
(speed does not depend on the weights); the clips are made from the real fixture clips.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from benchmarks.common import FIXTURES, best_of, print_table, save  # noqa: E402
from avemo.pipeline import audio, faces  # noqa: E402
from avemo.pipeline.config import FaceConfig, MfccConfig  # noqa: E402
from avemo.pipeline.extract import FaceExtractor, MfccExtractor  # noqa: E402
from avemo.pipeline.threads import single_threaded_blas  # noqa: E402
from avemo.params import to_dict  # noqa: E402
from tests.data.make_corpora import source_frames, write  # noqa: E402

EMOS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")


def _model(folder: Path) -> Path:
    from avemo.training.models import build_model

    path = folder / "maxpool.keras"
    build_model("maxpool").save(path)
    params = {"faces": {**to_dict(FaceConfig()), "algorithm": faces.ALGORITHM_VERSION},
              "mfcc": {**to_dict(MfccConfig()), "algorithm": audio.ALGORITHM_VERSION}}
    path.with_suffix(".json").write_text(json.dumps({"variant": "maxpool", "labels": list(EMOS), "corpus": "crema-d",
                                                     "store_params": params}))
    return path


def _recording(out: Path, seconds: float) -> Path:
    """Real clips one after the other (video and their WAV audio) up to ``seconds``, H.264 + PCM."""
    frames, chunks, k = [], [], 0
    while len(frames) < seconds * 30:
        e = EMOS[k % 6]
        pictures = source_frames(e)
        wav, rate = sf.read(FIXTURES / "AudioWAV" / f"1001_DFA_{e}_XX.wav", dtype="float32")
        y = np.zeros(len(pictures) * rate // 30, np.float32)
        y[:min(len(y), len(wav))] = wav[:len(y)]
        frames += pictures
        chunks.append(y)
        k += 1
    n = int(seconds * 30)
    write(out, frames[:n], 30, "libx264", (np.concatenate(chunks)[None, :n * 16000 // 30], 16000),
          audio_codec="pcm_s16le", crf=23)
    return out


def _decode(path: Path) -> None:
    import av

    with av.open(str(path)) as c:
        c.streams.video[0].thread_type = "NONE"
        for _ in c.decode(video=0):
            pass


def main(repeat: int = 3) -> list[dict]:
    from avemo.predict.config import PredictConfig
    from avemo.predict.model import Predictor
    from avemo.training import backend

    rows = []
    with tempfile.TemporaryDirectory() as tmp, single_threaded_blas():
        tmp = Path(tmp)
        model = _model(tmp)
        clip = _recording(tmp / "clip.mkv", 5.0)
        long = _recording(tmp / "minute.mkv", 60.0)
        predictor = Predictor(model, PredictConfig(window=5.0, hop=2.5))
        face, mfcc = FaceExtractor(FaceConfig()), MfccExtractor(MfccConfig())
        face.warm_up(), mfcc.warm_up()
        predictor.predict(clip)  # warm-up: graph tracing, numba

        def by_hand():
            inputs = {"faces": face.process(clip)["frames"][None], "mfcc": mfcc.process(clip)["mfcc"][None]}
            backend.to_numpy(predictor.model(inputs, training=False))

        t_predict = min(best_of(lambda: predictor.predict(clip), 1) for _ in range(repeat))
        t_hand = min(best_of(by_hand, 1) for _ in range(repeat))
        rows.append({"metric": "predict a 5 s clip", "value": t_predict * 1e3, "unit": "ms/clip",
                     "baseline": t_hand * 1e3, "ratio": t_predict / t_hand, "target": "<= 1.2x extract + forward"})
        windowed = Predictor(model)  # the default windows
        t0 = time.perf_counter()
        result = windowed.predict(long)
        t_long = time.perf_counter() - t0
        t_dec = best_of(lambda: _decode(long), 1)
        rows.append({"metric": f"predict 1 min of video ({len(result.timeline)} windows of "
                               f"{windowed.config.window:g} s)", "value": t_long, "unit": "s/min",
                     "baseline": t_dec, "ratio": t_long / t_dec, "target": ""})
    print_table("predict (value, its baseline measured in the same run, ratio)", rows)
    print(f"saved {save('predict', rows)}")
    return rows


if __name__ == "__main__":
    main()
