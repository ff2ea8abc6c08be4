import csv
import json

import numpy as np
from click.testing import CliRunner

from avemo.cli import main
from avemo.features.reader import StoreReader
from tests.media import assert_same_files, write_video


def _manifest(runner, corpus, out):
    res = runner.invoke(main, ["manifest", "--root", str(corpus), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_faces_store_with_recorded_failures(real_corpus, tmp_path, rng):
    runner = CliRunner()
    video = real_corpus / "VideoFlash"
    src = (video / "1001_DFA_ANG_XX.flv").read_bytes()
    (video / "1002_DFA_ANG_XX.flv").write_bytes(src[:3000])                      # truncated to nothing usable
    (video / "1002_DFA_DIS_XX.flv").write_bytes(b"")                              # empty
    (video / "1002_DFA_FEA_XX.flv").write_bytes(rng.integers(0, 255, 4000, dtype=np.uint8).tobytes())  # garbage
    write_video(video / "1002_DFA_HAP_XX.flv", [np.full((240, 320, 3), 90, np.uint8)] * 8)  # no face
    m = _manifest(runner, real_corpus, tmp_path / "m.csv")
    store = tmp_path / "faces"
    res = runner.invoke(main, ["extract", "faces", "--manifest", str(m), "--out", str(store),
                               "--summary", str(tmp_path / "s.json")])
    assert res.exit_code == 0, res.output
    assert "6 stored" in res.stderr and "4 failed" in res.stderr
    failures = {r["clip_id"]: r for r in csv.DictReader(open(store / "failures.csv"))}
    assert set(failures) == {"1002_DFA_ANG_XX", "1002_DFA_DIS_XX", "1002_DFA_FEA_XX", "1002_DFA_HAP_XX"}
    assert failures["1002_DFA_HAP_XX"]["kind"] == "no face"
    assert failures["1002_DFA_DIS_XX"]["kind"] == "empty file"
    assert json.loads((tmp_path / "s.json").read_text())["failures_by_kind"]["no face"] == 1
    with StoreReader(store) as r:
        assert len(r) == 6
        clip = r.get("1001_DFA_SAD_XX")
        assert clip["frames"].shape == (50, 64, 64, 3) and clip["detected"].any()
    png = tmp_path / "faces.png"
    res = runner.invoke(main, ["inspect", str(store), "--clip", "1001_DFA_SAD_XX", "--png", str(png)])
    assert res.exit_code == 0 and png.stat().st_size > 50_000
    assert "face boxes: 0 lost" in res.output and " 1 detected frame(s)" in res.output
    res = runner.invoke(main, ["extract", "faces", "--manifest", str(m), "--out", str(store)])
    assert "0 stored, 6 already stored" in res.stderr  # re-run is a no-op for stored clips


def test_a_clip_whose_face_is_lost_for_a_while_is_stored_flagged_and_counted(real_corpus, tmp_path):
    """The face hidden for the middle fifth of a real clip: the clip is stored (its other frames
    are good), its hidden frames are marked lost, and the run's summary counts it."""
    from avemo.pipeline.detectors import HogDetector
    from avemo.pipeline.media import read_video_frames
    from avemo.pipeline.boxes import largest
    from tests.media import moving_frames

    runner = CliRunner()
    video = real_corpus / "VideoFlash"
    rgb = read_video_frames(video / "1001_DFA_ANG_XX.flv", "rgb24")
    write_video(video / "1002_DFA_ANG_XX.flv", moving_frames(rgb, largest(HogDetector()(rgb[0])), "still",
                                                            cover=(0.4, 0.6)))
    m = _manifest(runner, real_corpus, tmp_path / "m.csv")
    store, summary = tmp_path / "faces", tmp_path / "s.json"
    res = runner.invoke(main, ["extract", "faces", "--manifest", str(m), "--out", str(store),
                               "--summary", str(summary)])
    assert res.exit_code == 0, res.output
    assert "7 stored" in res.stderr and "1 stored clip(s) with face lost on some frames" in res.stderr
    assert json.loads(summary.read_text())["flagged"] == {"face lost on some frames": 1}
    with StoreReader(store) as r:
        lost = r.get("1002_DFA_ANG_XX")["located"] == 0
        assert 6 <= lost.sum() <= 14 and not (r.get("1001_DFA_ANG_XX")["located"] == 0).any()
    res = runner.invoke(main, ["inspect", str(store), "--clip", "1002_DFA_ANG_XX"])
    assert f"{lost.sum()} lost" in res.output and "the face was lost on some frames" in res.output


def test_faces_parallel_is_byte_identical(demo_corpus, tmp_path):
    runner = CliRunner()
    m = _manifest(runner, demo_corpus, tmp_path / "m.csv")
    for jobs in ("1", "2"):
        res = runner.invoke(main, ["extract", "faces", "--manifest", str(m), "--out", str(tmp_path / f"j{jobs}"),
                                   "-j", jobs, "--shard-size", "10"])
        assert res.exit_code == 0, res.output
        assert "24 stored" in res.stderr
    assert_same_files(tmp_path / "j1", tmp_path / "j2", must_include="shard-00002.h5")


def test_missing_video_is_recorded_with_the_video_as_source(real_corpus, tmp_path):
    runner = CliRunner()
    m = _manifest(runner, real_corpus, tmp_path / "m.csv")
    (real_corpus / "VideoFlash" / "1001_DFA_NEU_XX.flv").unlink()  # gone after the manifest was made
    res = runner.invoke(main, ["extract", "faces", "--manifest", str(m), "--out", str(tmp_path / "faces")])
    assert res.exit_code == 0 and "5 stored" in res.stderr
    failure = {r["clip_id"]: r for r in csv.DictReader(open(tmp_path / "faces" / "failures.csv"))}["1001_DFA_NEU_XX"]
    assert failure["kind"] == "missing file"
    assert failure["source"].endswith("VideoFlash/1001_DFA_NEU_XX.flv")  # the stage's own file, not the WAV
