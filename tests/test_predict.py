"""`avemo predict` with a model trained here on the demo corpus (real dlib crops, real librosa
MFCCs, real TensorFlow training): the same probabilities as `avemo evaluate` on stored clips, a
timeline that follows the emotions of a long recording joined from real clips, flagged no-face
windows, named failures that leave the other inputs predicted, old models refused."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from avemo.cli import main
from avemo.errors import ModelError
from avemo.pipeline.config import DemoConfig
from avemo.pipeline.demo import build_demo_corpus
from avemo.pipeline.manifest import read_manifest
from avemo.predict.cli import expand_inputs
from avemo.predict.config import PredictConfig
from avemo.predict.model import Predictor
from avemo.predict.windows import plan_windows
from avemo.training.config import TrainConfig
from avemo.training.evaluate import evaluate_variant
from avemo.training.train import train_variant
from tests.data.make_corpora import source_frames, write
from tests.stores import small_stores

EMOS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, crema_dir):
    """A demo corpus of 12 pseudo-actors, its stores (8 frames of 32x32), a split (10 training
    actors), a maxpool model that has learned the six emotions, and its test-split evaluation."""
    root = tmp_path_factory.mktemp("predict")
    demo_corpus = root / "corpus"
    build_demo_corpus(crema_dir, demo_corpus, DemoConfig(actors=12, seed=3), jobs=2, progress=False)
    _, splits = small_stores(demo_corpus, root)
    model = train_variant("maxpool", root / "store", splits, root / "maxpool.keras",
                          TrainConfig(schedule="paper", epochs=30, batch_size=8, lr=1e-3, patience=30), verbose=0).model_path
    metrics = evaluate_variant(model, root / "store", splits, root / "eval.json", root / "plots")
    return root, demo_corpus, model, metrics


def test_predict_equals_evaluate_on_stored_clips(trained):
    root, corpus, model, metrics = trained
    assert metrics["macro"]["f1"] >= 0.8  # the model has learned the emotions (unseen pseudo-actor)
    with open(root / "plots" / "predictions.csv") as fh:
        rows = list(csv.DictReader(fh))
    predictor = Predictor(model)
    assert predictor.labels == EMOS and predictor.info.face.n_frames == 8 and predictor.info.face.size == 32
    manifest = {r.clip_id: r for r in read_manifest(root / "manifest.csv")}
    for row in rows:
        clip = manifest[row["clip_id"]]  # its audio as the MFCC stage took it: the WAV, else the video's track
        r = predictor.predict(clip.source("video"), clip.source("audio"))
        assert r.ok and r.clip is not None and not r.timeline
        np.testing.assert_allclose([r.probabilities[e] for e in EMOS], [float(row[f"p_{e}"]) for e in EMOS],
                                   atol=2e-5)
        assert r.label == row["predicted"]


SLOT = 75  # frames (2.5 s at 30 fps) per rendition of a clip: its last frame held, its audio padded


def _long_recording(crema_dir: Path, out: Path, order=("ANG", "HAP", "SAD")) -> list[tuple[str, float, float]]:
    """Each real clip of ``order`` twice in a row (each rendition in a 2.5 s slot), then 2.5 s of
    black and silence, as H.264 at 30 fps with the WAVs' 16 kHz PCM in MKV -> (emotion, start, end)
    of each rendition and of the black stretch ("none")."""
    frames, audio, segments = [], [], []
    for emotion in order:
        pictures = source_frames(emotion)[:SLOT]
        wav, rate = sf.read(crema_dir / "AudioWAV" / f"1001_DFA_{emotion}_XX.wav", dtype="float32")
        assert rate == 16000
        for _ in range(2):
            segments.append((emotion, len(frames) / 30, (len(frames) + SLOT) / 30))
            frames += pictures + [pictures[-1]] * (SLOT - len(pictures))
            y = np.zeros(SLOT * rate // 30, np.float32)
            y[:min(len(wav), len(y))] = wav[:len(y)]
            audio.append(y)
    segments.append(("none", len(frames) / 30, (len(frames) + SLOT) / 30))
    frames += [np.zeros_like(frames[0])] * SLOT
    audio.append(np.zeros(SLOT * rate // 30, np.float32))
    write(out, frames, 30, "libx264", (np.concatenate(audio)[None], rate), audio_codec="pcm_s16le", crf=18)
    return segments


def test_a_long_recording_gets_a_timeline_that_follows_its_emotions(trained, crema_dir, tmp_path):
    root, _, model, _ = trained
    video = tmp_path / "session.mkv"
    segments = _long_recording(crema_dir, video)
    predictor = Predictor(model, PredictConfig(window=2.5, hop=1.25))
    result = predictor.predict(video)
    assert result.ok and result.clip is None
    assert result.duration == pytest.approx(segments[-1][2], abs=0.1)
    assert [(w.start, w.end) for w in result.timeline] == [(w.start, w.end) for w in
                                                           plan_windows(result.duration, 2.5, 1.25)]
    # every window that holds one rendition says its emotion, so the labels change where the clips
    # change; the black stretch has no face: flagged, no prediction
    aligned = [(e, next(w for w in result.timeline if abs(w.start - s) < 1e-3)) for e, s, _ in segments]
    assert [w.label for e, w in aligned[:-1]] == [e for e, _ in aligned[:-1]]
    assert all(w.face_share == 1.0 and not w.flags for _, w in aligned[:-1])
    last = aligned[-1][1]
    assert "no face" in last.flags and not last.probabilities and last.face_share == 0 and last.label is None
    # the CLI writes the timeline (CSV, PNG) and the per-file summary
    out = tmp_path / "out.json"
    res = CliRunner().invoke(main, ["predict", "--model", str(model), str(video), "--out", str(out),
                                    "--window", "2.5", "--hop", "1.25"])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    (record,) = doc["inputs"]
    assert doc["labels"] == list(EMOS) and len(record["timeline"]) == len(result.timeline)
    assert record["label"] == result.label and "no face" in record["flags"]
    table = (tmp_path / "out.timelines" / "session.timeline.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(table)))
    assert [r["label"] for r in rows] == [w.label or "" for w in result.timeline]
    assert (tmp_path / "out.timelines" / "session.timeline.png").stat().st_size > 10_000


def test_failures_are_named_and_the_other_inputs_predicted(trained, crema_dir, tmp_path):
    root, _, model, _ = trained
    good = tmp_path / "good.flv"
    shutil.copy(crema_dir / "VideoFlash" / "1001_DFA_HAP_XX.flv", good)
    mute = tmp_path / "mute.mp4"
    write(mute, source_frames("SAD"), 30, "libx264", None)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    out = tmp_path / "r.csv"
    res = CliRunner().invoke(main, ["predict", "--model", str(model), str(good), str(mute), str(broken),
                                    str(tmp_path / "missing.mp4"), "--out", str(out)])
    assert res.exit_code == 1
    rows = {Path(r["input"]).name: r for r in csv.DictReader(open(out))}
    assert rows["good.flv"]["status"] == "ok" and rows["good.flv"]["label"] in EMOS
    assert abs(sum(float(rows["good.flv"][f"p_{e}"]) for e in EMOS) - 1) < 1e-4
    assert rows["mute.mp4"]["status"] == "failed" and "mute.mp4: has no audio track" in rows["mute.mp4"]["error"]
    assert rows["broken.mp4"]["status"] == "failed" and "broken.mp4" in rows["broken.mp4"]["error"]
    assert "missing.mp4: file does not exist" in rows["missing.mp4"]["error"]
    assert "mute.mp4: has no audio track" in res.stderr
    # with --silent-audio the mute file is predicted on its face, flagged
    res = CliRunner().invoke(main, ["predict", "--model", str(model), str(mute), "--silent-audio", "--out", str(out)])
    assert res.exit_code == 0, res.output
    (row,) = csv.DictReader(open(out))
    assert row["status"] == "ok" and "silent audio" in row["flags"]


def test_inputs_from_folders_and_stdin(tmp_path):
    (tmp_path / "a").mkdir()
    for name in ("a/x.mp4", "a/y.MKV", "a/notes.txt", "z.avi"):
        (tmp_path / name).write_bytes(b"x")
    listed = io.StringIO(f"{tmp_path / 'z.avi'}\n\n{tmp_path / 'a' / 'x.mp4'}\n")
    assert expand_inputs((str(tmp_path / "a"), "-"), listed) == [
        tmp_path / "a" / "x.mp4", tmp_path / "a" / "y.MKV", tmp_path / "z.avi", tmp_path / "a" / "x.mp4"]


def test_a_model_without_what_predict_needs_is_refused(trained, tmp_path):
    _, _, model, _ = trained
    old = tmp_path / "old.keras"
    shutil.copy(model, old)
    doc = json.loads(model.with_suffix(".json").read_text())
    doc.pop("labels")
    old.with_suffix(".json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="does not record the label set.*retrain it"):
        Predictor(old)
    doc = json.loads(model.with_suffix(".json").read_text())
    doc["store_params"]["faces"]["algorithm"] = 5
    old.with_suffix(".json").write_text(json.dumps(doc))
    with pytest.raises(ModelError, match="face crops of algorithm version 5.*retrain"):
        Predictor(old)
    old.with_suffix(".json").unlink()
    res = CliRunner().invoke(main, ["predict", "--model", str(old), str(old)])
    assert res.exit_code == 1 and "sidecar" in res.output and "retrain" in res.output
