import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from avemo.cli import main
from avemo.features.reader import StoreReader
from avemo.pipeline.audio import load_audio, mfcc_windows
from tests.media import assert_same_files, write_video

ROOT = Path(__file__).resolve().parents[1]


def _manifest(runner, corpus, out):
    res = runner.invoke(main, ["manifest", "--root", str(corpus), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def _arrays(store):
    with StoreReader(store) as r:
        return {c: r.read(c, "mfcc") for c in r.clip_ids}


def test_bad_files_are_recorded_and_the_rest_stored(real_corpus, tmp_path):
    runner = CliRunner()
    (real_corpus / "AudioWAV" / "1002_DFA_ANG_XX.wav").write_bytes(b"RIFF garbage" * 50)
    (real_corpus / "AudioWAV" / "1002_DFA_SAD_XX.wav").write_bytes(b"")
    write_video(real_corpus / "VideoFlash" / "1003_DFA_HAP_XX.flv", [np.zeros((48, 64, 3), np.uint8)] * 3)
    m = _manifest(runner, real_corpus, tmp_path / "m.csv")
    store, summary = tmp_path / "store", tmp_path / "metrics.json"
    res = runner.invoke(main, ["extract", "mfcc", "--manifest", str(m), "--out", str(store),
                               "--summary", str(summary)])
    assert res.exit_code == 0, res.output
    assert "6 stored" in res.stderr and "3 failed" in res.stderr
    failures = {r["clip_id"]: r for r in csv.DictReader(open(store / "failures.csv"))}
    assert failures["1002_DFA_ANG_XX"]["kind"] == "undecodable"
    assert failures["1002_DFA_SAD_XX"]["kind"] == "empty file"
    assert failures["1003_DFA_HAP_XX"]["kind"] == "no audio track"
    assert "1002_DFA_ANG_XX.wav" in failures["1002_DFA_ANG_XX"]["reason"]
    assert json.loads(summary.read_text())["failed"] == 3
    got = _arrays(store)
    assert len(got) == 6
    ref = mfcc_windows(load_audio(real_corpus / "AudioWAV" / "1001_DFA_NEU_XX.wav", 22050))
    np.testing.assert_array_equal(got["1001_DFA_NEU_XX"], ref)
    # inspect shows the failures by kind
    res = runner.invoke(main, ["inspect", str(store)])
    assert res.exit_code == 0 and "6 in 1 shard" in res.output and "empty file: 1" in res.output
    res = runner.invoke(main, ["inspect", str(store), "--json"])
    assert json.loads(res.output)["failures_by_kind"] == {"empty file": 1, "no audio track": 1, "undecodable": 1}
    png = tmp_path / "clip.png"
    res = runner.invoke(main, ["inspect", str(store), "--clip", "1001_DFA_ANG_XX", "--png", str(png)])
    assert res.exit_code == 0 and "(9, 40, 40)" in res.output and png.stat().st_size > 10_000


def test_nothing_processable_exits_nonzero(tmp_path):
    corpus = tmp_path / "c"
    (corpus / "AudioWAV").mkdir(parents=True)
    (corpus / "AudioWAV" / "1001_DFA_ANG_XX.wav").write_bytes(b"not audio" * 100)
    runner = CliRunner()
    m = _manifest(runner, corpus, tmp_path / "m.csv")
    res = runner.invoke(main, ["extract", "mfcc", "--manifest", str(m), "--out", str(tmp_path / "s")])
    assert res.exit_code == 1 and "no clip could be processed" in res.output


def test_rerun_is_a_noop_and_changed_sources_are_redone(real_corpus, tmp_path):
    runner = CliRunner()
    m = _manifest(runner, real_corpus, tmp_path / "m.csv")
    args = ["extract", "mfcc", "--manifest", str(m), "--out", str(tmp_path / "s")]
    assert runner.invoke(main, args).exit_code == 0
    before = _arrays(tmp_path / "s")
    res = runner.invoke(main, args)
    assert "0 stored, 6 already stored" in res.stderr
    shutil.copy(real_corpus / "AudioWAV" / "1001_DFA_SAD_XX.wav", real_corpus / "AudioWAV" / "1001_DFA_ANG_XX.wav")
    res = runner.invoke(main, args)
    assert "1 stored, 5 already stored" in res.stderr
    after = _arrays(tmp_path / "s")
    np.testing.assert_array_equal(after["1001_DFA_ANG_XX"], before["1001_DFA_SAD_XX"])
    res = runner.invoke(main, ["--params", str(_params(tmp_path, "mfcc:\n  n_mfcc: 20\n")), *args])
    assert res.exit_code == 1 and "n_mfcc: 40 -> 20" in res.output and "--force" in res.output


def _params(tmp_path, text):
    p = tmp_path / "params.yaml"
    p.write_text(text)
    return p


def test_parallel_gives_the_same_bytes(demo_corpus, tmp_path):
    runner = CliRunner()
    m = _manifest(runner, demo_corpus, tmp_path / "m.csv")
    for jobs in ("1", "2"):
        res = runner.invoke(main, ["extract", "mfcc", "--manifest", str(m), "--out", str(tmp_path / f"j{jobs}"),
                                   "-j", jobs, "--shard-size", "10"])
        assert res.exit_code == 0, res.output
    assert_same_files(tmp_path / "j1", tmp_path / "j2", must_include="shard-00002.h5")


def test_resume_after_sigkill_gives_identical_datasets(demo_corpus, tmp_path):
    runner = CliRunner()
    m = _manifest(runner, demo_corpus, tmp_path / "m.csv")
    clean = tmp_path / "clean"
    assert runner.invoke(main, ["extract", "mfcc", "--manifest", str(m), "--out", str(clean),
                                "--shard-size", "1"]).exit_code == 0
    crashed = tmp_path / "crashed"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "avemo", "extract", "mfcc", "--manifest", str(m),
                             "--out", str(crashed), "--shard-size", "1"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (crashed / "shard-00002.h5").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    published = sorted(p.name for p in crashed.glob("shard-*.h5"))
    assert 3 <= len(published) < 24, "the kill must land mid-run"
    res = runner.invoke(main, ["extract", "mfcc", "--manifest", str(m), "--out", str(crashed), "--shard-size", "1"])
    assert res.exit_code == 0, res.output
    assert "already stored" in res.stderr
    a, b = _arrays(clean), _arrays(crashed)
    assert a.keys() == b.keys() and len(a) == 24
    for clip in a:
        assert a[clip].tobytes() == b[clip].tobytes()
    assert not list(crashed.glob("*.partial"))


def test_store_from_another_algorithm_version_is_refused_then_rebuilt(real_corpus, tmp_path):
    runner = CliRunner()
    m = _manifest(runner, real_corpus, tmp_path / "m.csv")
    store = tmp_path / "s"
    args = ["extract", "mfcc", "--manifest", str(m), "--out", str(store)]
    assert runner.invoke(main, args).exit_code == 0
    meta = json.loads((store / "store.json").read_text())
    assert meta["params"]["algorithm"] >= 1
    meta["params"]["algorithm"] = 0  # as if written by an older avemo whose MFCC code differed
    (store / "store.json").write_text(json.dumps(meta))
    res = runner.invoke(main, args)
    assert res.exit_code == 1 and "algorithm: 0 ->" in res.output
    res = runner.invoke(main, [*args, "--force"])
    assert res.exit_code == 0 and "6 stored, 0 already stored" in res.stderr
