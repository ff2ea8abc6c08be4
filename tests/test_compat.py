"""Stores and models written before the `avemo.*` namespace (tests/data/compat, made by avemo
0.1.0) still open, read, resume and predict the same. The faces store of then was made by face
algorithm 4: it stays readable and drawable, and an extraction rebuilds it (with --force)
rather than mixing algorithms."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from avemo.features import open_store
from avemo.features.inspect import summarize, verify
from avemo.pipeline import faces
from avemo.pipeline.config import FaceConfig, MfccConfig
from avemo.pipeline.extract import FaceExtractor, MfccExtractor, run_extraction
from avemo.pipeline.corpus_cremad import row_of
from avemo.training.models import load_model

COMPAT = Path(__file__).parent / "data" / "compat"
CLIPS = ("1001_DFA_ANG_XX", "1001_DFA_SAD_XX")
EXTRACTORS = {"mfcc": MfccExtractor(MfccConfig()), "faces": FaceExtractor(FaceConfig(n_frames=8, size=32))}


def _rows(crema_dir):
    return [row_of(c, video=f"VideoFlash/{c}.flv", audio=f"AudioWAV/{c}.wav", root=str(crema_dir))
            for c in CLIPS]


def test_old_stores_open_verify_and_hold_what_this_version_computes(crema_dir, tmp_path):
    for modality, extractor in {"mfcc": EXTRACTORS["mfcc"]}.items():
        old = COMPAT / "store" / modality
        assert verify(old) == [] and summarize(old)["checksummed_shards"] == 0  # written before checksums
        run_extraction(_rows(crema_dir), tmp_path / modality, extractor, progress=False)
        with open_store(old) as before, open_store(tmp_path / modality) as now:
            assert before.clip_ids == now.clip_ids == list(CLIPS)
            assert before.params == now.params  # same params and algorithm version
            for clip in CLIPS:
                for name, a in before.get(clip).items():
                    assert np.array_equal(a, now.read(clip, name)), (modality, clip, name)


def test_an_old_faces_store_reads_draws_and_is_rebuilt_not_mixed(crema_dir, tmp_path):
    from avemo.errors import StoreParamsError
    from avemo.features.inspect import clip_stats, draw_clip

    old = COMPAT / "store" / "faces"
    assert verify(old) == [] and summarize(old)["checksummed_shards"] == 0
    with open_store(old) as store:
        assert store.params["algorithm"] == 4 and "located" not in store.get(CLIPS[0])
    assert "located_frames" not in clip_stats(old, CLIPS[0]) and clip_stats(old, CLIPS[0])["detected_frames"] >= 1
    assert draw_clip(old, CLIPS[0], tmp_path / "old.png").stat().st_size > 10_000  # detected / interpolated only
    store = tmp_path / "faces"
    shutil.copytree(old, store)
    with pytest.raises(StoreParamsError):
        run_extraction(_rows(crema_dir), store, EXTRACTORS["faces"], progress=False)
    report = run_extraction(_rows(crema_dir), store, EXTRACTORS["faces"], force=True, progress=False)
    assert report.stored == 2
    with open_store(store) as now:
        assert now.params["algorithm"] == faces.ALGORITHM_VERSION and now.read(CLIPS[0], "located").shape == (8,)


def test_an_old_store_is_resumed_not_rebuilt(crema_dir, tmp_path):
    for modality, extractor in {"mfcc": EXTRACTORS["mfcc"]}.items():
        store = tmp_path / modality
        shutil.copytree(COMPAT / "store" / modality, store)
        shards = {p.name: p.read_bytes() for p in store.glob("shard-*.h5")}
        report = run_extraction(_rows(crema_dir), store, extractor, progress=False)
        assert report.skipped == 2 and report.stored == 0, report
        assert {p.name: p.read_bytes() for p in store.glob("shard-*.h5")} == shards


def test_an_old_model_loads_in_safe_mode_and_predicts_the_same():
    model = load_model(COMPAT / "transformer-0.1.0.keras")
    io = np.load(COMPAT / "transformer-0.1.0-io.npz")
    probs = np.asarray(model({"faces": io["faces"], "mfcc": io["mfcc"]}, training=False))
    np.testing.assert_allclose(probs, io["probs"], rtol=1e-5, atol=1e-6)
