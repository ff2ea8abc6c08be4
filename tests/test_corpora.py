"""Corpus kinds beyond CREMA-D: RAVDESS-style and labels-csv test media (tests/data/ravdess,
tests/data/labels-csv: made from the real clips by tests/data/make_corpora.py) through manifest,
split, extraction, training, evaluation, and a model evaluated on another corpus."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import replace
from pathlib import Path

import av
import librosa
import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from avemo.cli import main
from avemo.errors import CorpusError, SplitError
from avemo.names import EMOTIONS
from avemo.pipeline.audio import mfcc_windows
from avemo.pipeline.config import CorpusConfig, FaceConfig, ManifestConfig, MfccConfig
from avemo.pipeline.corpora import scan_corpus
from avemo.pipeline.corpus_ravdess import LABELS as RAVDESS_LABELS
from avemo.pipeline.extract import FaceExtractor, MfccExtractor, run_extraction
from avemo.pipeline.split import check_leakage, speaker_finder

DATA = Path(__file__).parent / "data"
RAVDESS, LABELS_CSV = DATA / "ravdess", DATA / "labels-csv"
#: RAVDESS emotion code -> CREMA-D code, as the test media were made.
CODES = {"01": "NEU", "03": "HAP", "04": "SAD", "05": "ANG", "06": "FEA", "07": "DIS"}


def _ravdess(**kw) -> CorpusConfig:
    return CorpusConfig(**{"root": str(RAVDESS), "kind": "ravdess", **kw})


def _reasons(result) -> dict[str, str]:
    return {r["file"]: r["reason"] for r in result.rejected}


def test_ravdess_manifest_keeps_av_speech_and_says_why_for_every_other_file():
    result = scan_corpus(RAVDESS, ManifestConfig(), _ravdess())
    assert result.kind == "ravdess" and result.labels == RAVDESS_LABELS
    rows = {r.clip_id: r for r in result.rows}
    assert len(rows) == 26 and {r.actor for r in rows.values()} == {"01", "02", "03", "04"}
    row = rows["01-01-05-01-01-01-02"]
    assert (row.emotion, row.video, row.audio, row.sex) == ("ANG", "Actor_02/01-01-05-01-01-01-02.mp4", "", "Female")
    assert rows["01-01-02-01-01-01-01"].emotion == "CAL" and rows["01-01-03-01-01-01-03"].sex == "Male"
    assert all(RAVDESS_LABELS[r.label] == r.emotion for r in rows.values())
    why = _reasons(result)
    assert "song" in why["Actor_01/01-02-03-01-01-01-01.mp4"]
    assert "video-only" in why["Actor_01/02-01-05-02-01-01-01.mp4"]
    assert "audio-only" in why["Actor_01/03-01-05-02-01-01-01.wav"]
    # onto CREMA-D's six: calm and surprised have no image there and are rejected, counted
    six = scan_corpus(RAVDESS, ManifestConfig(), _ravdess(labels=EMOTIONS))
    assert len(six.rows) == 24 and six.labels == EMOTIONS
    assert all(EMOTIONS[r.label] == r.emotion == CODES[r.clip_id[6:8]] for r in six.rows)
    why = _reasons(six)
    assert "label 'CAL' has no image in the label set" in why["Actor_01/01-01-02-01-01-01-01.mp4"]
    assert "label 'SUR'" in why["Actor_01/01-01-08-01-01-01-01.mp4"]
    # the song channel as an option; video-only files with their audio-only WAV as the other
    assert len(scan_corpus(RAVDESS, ManifestConfig(), _ravdess(ravdess_channels=("speech", "song"))).rows) == 27
    pairs = scan_corpus(RAVDESS, ManifestConfig(), _ravdess(ravdess_files="video+wav")).rows
    assert [(r.clip_id, r.video, r.audio) for r in pairs] == [
        ("02-01-05-02-01-01-01", "Actor_01/02-01-05-02-01-01-01.mp4", "Actor_01/03-01-05-02-01-01-01.wav")]


def test_malformed_names_and_stray_files_are_rejected_and_nothing_else_lost(tmp_path):
    root = tmp_path / "ravdess"
    shutil.copytree(RAVDESS, root)
    src = root / "Actor_01" / "01-01-05-01-01-01-01.mp4"
    for bad in ("01-01-05-01-01-01.mp4", "01-01-09-01-01-01-01.mp4", "01-01-05-01-01-01-00.mp4"):
        shutil.copy(src, root / "Actor_01" / bad)
    (root / "Actor_02" / "notes.txt").write_text("session notes")
    (root / "Actor_03" / "01-01-05-01-02-01-03.avi").write_bytes(b"")  # a RAVDESS name, but an empty file
    result = scan_corpus(root, ManifestConfig(), _ravdess(root=str(root)))
    clean = scan_corpus(RAVDESS, ManifestConfig(), _ravdess())
    assert [r.clip_id for r in result.rows] == sorted([r.clip_id for r in clean.rows] + ["01-01-05-01-02-01-03"])
    why = _reasons(result)
    for bad in ("Actor_01/01-01-05-01-01-01.mp4", "Actor_01/01-01-09-01-01-01-01.mp4",
                "Actor_01/01-01-05-01-01-01-00.mp4", "Actor_02/notes.txt"):
        assert "not a RAVDESS name" in why[bad], bad
    with pytest.raises(CorpusError, match="RAVDESS folder"):
        scan_corpus(tmp_path / "nowhere", ManifestConfig(), _ravdess(root=str(tmp_path / "nowhere")))


def test_labels_csv_manifest_any_labels_any_containers(tmp_path):
    cfg = CorpusConfig(root=str(LABELS_CSV), kind="labels-csv")
    result = scan_corpus(LABELS_CSV, ManifestConfig(), cfg)
    assert result.labels == ("angry", "happy", "sad") and len(result.rows) == 9 and not result.rejected
    rows = {r.clip_id: r for r in result.rows}
    a, b, c = rows["lab_a/take_angry"], rows["lab_b/take_sad"], rows["lab_c/take_happy"]
    assert (a.actor, a.sex, a.emotion, a.label, a.audio) == ("A", "Female", "angry", 0, "")
    assert (b.actor, b.sex, b.video) == ("B", "Male", "lab_b/take_sad.avi")
    assert (c.actor, c.sex, c.audio) == ("C", "", "lab_c/take_happy.wav")  # the WAV beside the video
    # bad lines are rejected with their reason; every good line stays
    root = tmp_path / "lab"
    shutil.copytree(LABELS_CSV, root)
    with open(root / "labels.csv", "a") as fh:
        fh.write("lab_a/gone.mp4,angry,A,f\nlab_a/take_sad.mp4,,A,f\nlab_c/take_sad.wav,sad,C,\n"
                 "lab_a/take_sad.mp4,sad,A,f\n")
    result = scan_corpus(root, ManifestConfig(), CorpusConfig(root=str(root), kind="labels-csv"))
    assert len(result.rows) == 9
    why = _reasons(result)
    assert "does not exist" in why["lab_a/gone.mp4 (labels.csv line 11)"]
    assert "empty path, label or speaker" in why["lab_a/take_sad.mp4 (labels.csv line 12)"]
    # an audio file is a speech clip of its own, but this one is the clip lab_c/take_sad's audio already
    assert "listed twice (clip lab_c/take_sad)" in why["lab_c/take_sad.wav (labels.csv line 13)"]
    assert "listed twice" in why["lab_a/take_sad.mp4 (labels.csv line 14)"]
    # a label map into a chosen label set; a label without an image there is rejected
    mapped = scan_corpus(LABELS_CSV, ManifestConfig(), CorpusConfig(
        root=str(LABELS_CSV), kind="labels-csv", labels=("HAP", "ANG"), label_map={"angry": "ANG", "happy": "HAP"}))
    assert sorted({(r.emotion, r.label) for r in mapped.rows}) == [("ANG", 1), ("HAP", 0)] and len(mapped.rows) == 6
    assert all("label 'sad' has no image" in r["reason"] for r in mapped.rejected) and len(mapped.rejected) == 3
    (root / "labels.csv").write_text("file,emotion\nx.mp4,angry\n")
    with pytest.raises(CorpusError, match="lacks the column.*path, label, speaker"):
        scan_corpus(root, ManifestConfig(), CorpusConfig(root=str(root), kind="labels-csv"))


def test_a_clip_without_audio_is_recorded_with_its_reason_and_the_rest_stored(tmp_path):
    """A labels-csv video with no audio track and no WAV beside it: listed by the manifest (its
    faces are fine), a recorded `no audio track` failure of the MFCC stage, the others stored."""
    root = tmp_path / "lab"
    shutil.copytree(LABELS_CSV, root)
    (root / "lab_c" / "take_sad.wav").unlink()
    rows = scan_corpus(root, ManifestConfig(), CorpusConfig(root=str(root), kind="labels-csv")).rows
    rows = [replace(r, root=str(root)) for r in rows]
    assert {r.clip_id: r.audio for r in rows}["lab_c/take_sad"] == ""
    report = run_extraction(rows, tmp_path / "mfcc", MfccExtractor(MfccConfig()), progress=False)
    assert (report.stored, report.failed) == (8, 1)
    with open(tmp_path / "mfcc" / "failures.csv") as fh:
        (failure,) = list(csv.DictReader(fh))
    assert failure["clip_id"] == "lab_c/take_sad" and failure["kind"] == "no audio track"
    assert "take_sad.mkv: has no audio track" in failure["reason"]


def _params(path: Path, **sections) -> Path:
    path.write_text(yaml.safe_dump(sections))
    return path


def test_split_scales_to_the_corpus_and_check_reads_its_ids(tmp_path):
    runner = CliRunner()
    params = _params(tmp_path / "params.yaml", corpus={"kind": "ravdess", "root": str(RAVDESS), "labels": list(EMOTIONS)})
    manifest, splits = tmp_path / "m.csv", tmp_path / "s.json"
    res = runner.invoke(main, ["--params", str(params), "manifest", "--out", str(manifest)])
    assert res.exit_code == 0, res.output
    assert "24 clips from 4 actors (ravdess)" in res.stderr and "2 file(s) rejected" not in res.stderr
    assert json.loads((tmp_path / "m.labels.json").read_text()) == {"kind": "ravdess", "labels": list(EMOTIONS),
                                                                          "media": "av"}
    res = runner.invoke(main, ["--params", str(params), "split", "--manifest", str(manifest), "--out", str(splits)])
    assert res.exit_code == 0, res.output
    doc = json.loads(splits.read_text())
    parts = doc["splits"]
    assert doc["corpus"] == "ravdess" and doc["labels"] == list(EMOTIONS)
    assert [len(parts[s]["actors"]) for s in ("train", "val", "test")] == [2, 1, 1]  # a sixth of 4 actors, at least 1
    sexes = {"Male" if int(a) % 2 else "Female" for s in ("val", "test") for a in parts[s]["actors"]}
    assert sexes == {"Male", "Female"}  # one of each sex held out
    for part in parts.values():  # labels and speakers recorded from the manifest
        assert [EMOTIONS[y] for y in part["labels"]] == [CODES[c[6:8]] for c in part["clips"]]
        assert part["speakers"] == [c[-2:] for c in part["clips"]]
    res = runner.invoke(main, ["split", "--check", str(splits)])
    assert res.exit_code == 0 and "no speaker leakage" in res.output
    # another project's lists of paths, one test clip also listed for training: found by the manifest
    leaked = parts["test"]["clips"][0]
    (tmp_path / "train.csv").write_text("file\n" + "".join(f"/data/ravdess/Actor_{c[-2:]}/{c}.mp4\n"
                                                           for c in parts["train"]["clips"] + [leaked]))
    (tmp_path / "test.csv").write_text("file\n" + "".join(f"{c}.mp4\n" for c in parts["test"]["clips"]))
    res = runner.invoke(main, ["split", "--manifest", str(manifest), "--check", str(tmp_path / "train.csv"),
                               str(tmp_path / "test.csv")])
    assert res.exit_code == 1 and f"actor {leaked[-2:]}: test 6 clips, train 1 clips" in res.output
    # a labels-csv corpus' ids carry no speaker: the audit needs its manifest
    lab = scan_corpus(LABELS_CSV, ManifestConfig(), CorpusConfig(kind="labels-csv"))
    lists = {"train": ["lab_a/take_angry", "lab_b/take_angry"], "test": ["lab_a/take_sad"]}
    assert check_leakage(lists, speaker_finder(lab.rows)) == {"A": {"test": 1, "train": 1}}
    with pytest.raises(SplitError, match="speaker is unknown"):
        check_leakage(lists)


def test_mfcc_of_an_in_container_48khz_track_is_the_paper_definition(tmp_path):
    path = RAVDESS / "Actor_02" / "01-01-04-01-01-01-02.mp4"
    with av.open(str(path)) as c:  # the track's samples, decoded independently of avemo
        stream = c.streams.audio[0]
        assert (stream.codec_context.name, stream.codec_context.sample_rate) == ("aac", 48000)
        y = np.concatenate([f.to_ndarray().reshape(-1, f.samples).mean(axis=0) for f in c.decode(stream)])
    y = librosa.resample(y.astype(np.float32), orig_sr=48000, target_sr=22050)
    y = np.pad(y, (0, max(0, 110250 - len(y))))[:110250]
    m = librosa.feature.mfcc(y=y, sr=22050, n_mfcc=40, n_fft=2048, hop_length=512).T
    expected = np.stack([m[20 * k:20 * k + 40] for k in range(9)])
    got = MfccExtractor(MfccConfig()).process(path)["mfcc"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)
    assert np.abs(got).max() > 1  # not silence
    np.testing.assert_allclose(mfcc_windows(y), expected, rtol=1e-5, atol=1e-3)


def test_720p_crops_follow_the_face_where_each_pseudo_actor_stands(crema_dir):
    """The 720p clips place the 480x360 source at 2x at a known offset (mirrored for actors 2 and
    4): the boxes found at 720p are the source clip's boxes mapped through that placement."""
    extract = FaceExtractor(FaceConfig())
    source = extract.process(crema_dir / "VideoFlash" / "1001_DFA_ANG_XX.flv")["boxes"]
    for actor, (x, mirror) in {1: (0.15, False), 2: (0.55, True), 3: (0.85, False), 4: (0.35, True)}.items():
        out = extract.process(RAVDESS / f"Actor_{actor:02d}" / f"01-01-05-01-01-01-{actor:02d}.mp4")
        assert out["located"].all() and out["frames"].shape == (50, 64, 64, 3)
        x0 = round((1280 - 960) * x)
        expected = source * 2.0
        if mirror:
            expected[:, [0, 2]] = 960 - expected[:, [2, 0]]
        expected[:, [0, 2]] += x0
        side = expected[:, 2] - expected[:, 0]
        centre = lambda b: np.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2], axis=1)
        off = np.linalg.norm(centre(out["boxes"]) - centre(expected), axis=1) / side
        assert off.max() < 0.12, (actor, off.max())
        assert np.all(np.abs((out["boxes"][:, 2] - out["boxes"][:, 0]) / side - 1) < 0.12)


def _run(runner, params, *args):
    res = runner.invoke(main, ["--params", str(params), *args])
    assert res.exit_code == 0, (args, res.output)
    return res


def _pipeline(runner, work: Path, corpus: dict) -> tuple[Path, Path, Path]:
    """manifest -> split -> extract (8 frames of 32x32) -> train maxpool 2 epochs -> evaluate."""
    work.mkdir()
    params = _params(work / "params.yaml", corpus=corpus, faces={"n_frames": 8, "size": 32}, jobs=1,
                     train={"schedule": "paper", "epochs": 2, "batch_size": 4, "lr": 0.001}, eval={"replicates": 200})
    _run(runner, params, "manifest", "--out", str(work / "m.csv"))
    _run(runner, params, "split", "--manifest", str(work / "m.csv"), "--out", str(work / "s.json"))
    for modality in ("mfcc", "faces"):
        _run(runner, params, "extract", modality, "--manifest", str(work / "m.csv"), "--out",
             str(work / "store" / modality))
    model = work / "maxpool.keras"
    _run(runner, params, "train", "--variant", "maxpool", "--store", str(work / "store"), "--splits",
         str(work / "s.json"), "--out", str(model))
    _run(runner, params, "evaluate", "--variant", "maxpool", "--model", str(model), "--store", str(work / "store"),
         "--splits", str(work / "s.json"), "--out", str(work / "eval.json"), "--plots", str(work / "plots"))
    return params, model, work / "eval.json"


@pytest.mark.slow
def test_each_kind_trains_and_evaluates_and_models_cross_corpora(tmp_path):
    runner = CliRunner()
    rav_params, rav_model, rav_eval = _pipeline(runner, tmp_path / "ravdess", {
        "kind": "ravdess", "root": str(RAVDESS), "labels": list(EMOTIONS)})
    lab_params, lab_model, lab_eval = _pipeline(runner, tmp_path / "lab", {
        "kind": "labels-csv", "root": str(LABELS_CSV), "labels": ["ANG", "HAP", "SAD"],
        "label_map": {"angry": "ANG", "happy": "HAP", "sad": "SAD"}})
    sidecar = json.loads(rav_model.with_suffix(".json").read_text())
    assert sidecar["labels"] == list(EMOTIONS) and sidecar["corpus"] == "ravdess"
    assert json.loads(lab_model.with_suffix(".json").read_text())["labels"] == ["ANG", "HAP", "SAD"]
    for path, n, classes in ((rav_eval, 6, EMOTIONS), (lab_eval, 3, ("ANG", "HAP", "SAD"))):
        r = json.loads(path.read_text())
        assert r["n"] == n and r["labels"] == list(classes) and r["train_corpus"] == r["test_corpus"]
        assert np.asarray(r["confusion"]).shape == (len(classes), len(classes))
    # the RAVDESS model on the lab's whole store, in the shared label space
    res = _run(runner, rav_params, "evaluate", "--variant", "maxpool", "--model", str(rav_model), "--store",
               str(tmp_path / "lab" / "store"), "--splits", str(tmp_path / "lab" / "s.json"), "--split", "all",
               "--out", str(tmp_path / "cross.json"), "--plots", str(tmp_path / "cross"))
    r = json.loads((tmp_path / "cross.json").read_text())
    assert (r["train_corpus"], r["test_corpus"], r["n"], r["unmapped"]) == ("ravdess", "labels-csv", 9, 0)
    assert "ravdess model on labels-csv" in res.stderr
    truth = [row.split(",")[1] for row in (tmp_path / "cross" / "predictions.csv").read_text().splitlines()[1:]]
    assert sorted(truth) == ["ANG"] * 3 + ["HAP"] * 3 + ["SAD"] * 3
    # the lab's 3-label model on RAVDESS: clips of labels it lacks are left out and counted
    res = _run(runner, lab_params, "evaluate", "--variant", "maxpool", "--model", str(lab_model), "--store",
               str(tmp_path / "ravdess" / "store"), "--splits", str(tmp_path / "ravdess" / "s.json"), "--split", "all",
               "--out", str(tmp_path / "back.json"), "--plots", str(tmp_path / "back"))
    r = json.loads((tmp_path / "back.json").read_text())
    assert (r["n"], r["unmapped"], r["unmapped_labels"]) == (12, 12, {"DIS": 4, "FEA": 4, "NEU": 4})
    assert "12 clip(s) left out" in res.stderr
    # a split file without labels (an older avemo's) is refused with what to do
    old = json.loads((tmp_path / "lab" / "s.json").read_text())
    old["format"] = 1
    (tmp_path / "old.json").write_text(json.dumps(old))
    res = runner.invoke(main, ["--params", str(lab_params), "evaluate", "--variant", "maxpool", "--model",
                               str(lab_model), "--store", str(tmp_path / "lab" / "store"), "--splits",
                               str(tmp_path / "old.json"), "--out", str(tmp_path / "x.json"), "--plots", str(tmp_path / "x")])
    assert res.exit_code == 1 and "re-make it with `avemo split`" in res.output
