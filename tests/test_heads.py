"""Cached backbone embeddings and head-only training, on feature stores extracted from the demo
corpus (real dlib crops and librosa MFCCs; 8 frames of 32x32 keep the model small)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from avemo.cli import main
from avemo.errors import StoreError, StoreParamsError
from avemo.features.reader import StoreReader
from avemo.training.config import HeadsConfig, TrainConfig
from avemo.training.embed import backbone_of, embed_store
from avemo.training.heads import head_path, train_head
from avemo.training.models import load_model
from avemo.training.train import train_variant
from tests.stores import small_stores


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory, demo_corpus):
    """faces + mfcc stores of the 24-clip demo corpus, a split, and a backbone trained 1 epoch."""
    root = tmp_path_factory.mktemp("heads")
    _, splits = small_stores(demo_corpus, root)
    backbone = train_variant("gru", root / "store", splits, root / "gru.keras",
                             TrainConfig(schedule="paper", epochs=1, batch_size=4, lr=1e-3), verbose=0).model_path
    return root, splits, backbone


def test_embeddings_equal_the_backbone_outputs(demo_store, tmp_path):
    root, _, model_path = demo_store
    report = embed_store(model_path, root / "store", tmp_path / "emb", batch_size=5, progress=False)
    assert report.stored == 24 and report.failed == 0
    model = load_model(model_path)
    with StoreReader(tmp_path / "emb") as emb, StoreReader(root / "store" / "faces") as faces, \
            StoreReader(root / "store" / "mfcc") as mfcc:
        assert emb.modality == "embeddings" and emb.spec("face_emb").shape == (8, 64)
        assert emb.spec("audio_emb").shape == (9, 64)
        ids = emb.clip_ids
        direct = backbone_of(model).predict({"faces": faces.load(ids, ["frames"])["frames"],
                                             "mfcc": mfcc.load(ids, ["mfcc"])["mfcc"]}, verbose=0)
        stored = emb.load(ids)
        np.testing.assert_allclose(stored["face_emb"], direct[0], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(stored["audio_emb"], direct[1], rtol=1e-5, atol=1e-5)
        assert np.abs(stored["face_emb"]).max() > 0  # not an all-zero (dead) backbone
    again = embed_store(model_path, root / "store", tmp_path / "emb", progress=False)
    assert again.stored == 0 and again.skipped == 24  # a re-run is a no-op
    runner = CliRunner()  # inspect knows the third kind of store
    res = runner.invoke(main, ["inspect", str(tmp_path / "emb"), "--verify"])
    assert res.exit_code == 0 and "embeddings" in res.output, res.output
    res = runner.invoke(main, ["inspect", str(tmp_path / "emb"), "--clip", ids[0], "--png", str(tmp_path / "e.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "e.png").stat().st_size > 5_000


def test_stores_and_heads_of_two_backbones_are_refused_together(demo_store, tmp_path):
    root, splits, model_path = demo_store
    other = train_variant("maxpool", root / "store", splits, tmp_path / "other.keras",
                          TrainConfig(schedule="paper", epochs=1, batch_size=4, lr=1e-3, seed=7), verbose=0).model_path
    embed_store(model_path, root / "store", tmp_path / "emb", progress=False)
    with pytest.raises(StoreParamsError, match="refusing to mix"):
        embed_store(other, root / "store", tmp_path / "emb", progress=False)
    with pytest.raises(StoreError, match="not the one the embeddings were made with"):
        train_head("lstm", tmp_path / "emb", splits, tmp_path / "h.keras", HeadsConfig(schedule="paper", epochs=1), backbone=other,
                   verbose=0)


def test_head_training_and_reassembly(demo_store, tmp_path):
    root, splits, model_path = demo_store
    embed_store(model_path, root / "store", tmp_path / "emb", progress=False)
    cfg = HeadsConfig(schedule="paper", epochs=6, batch_size=4, lr=3e-3, patience=6)
    r = train_head("transformer", tmp_path / "emb", splits, tmp_path / "t.keras", cfg, verbose=0)
    losses = r.history["loss"]
    assert len(losses) == 6 and losses[-1] < losses[0]  # the head learns on the demo embeddings
    sidecar = json.loads((tmp_path / "t.json").read_text())
    assert sidecar["mode"] == "heads" and sidecar["n_train"] == 12

    # The assembled model (faces, mfcc) predicts what head(backbone(x)) predicts.
    head, full = load_model(head_path(tmp_path / "t.keras")), load_model(tmp_path / "t.keras")
    with StoreReader(tmp_path / "emb") as emb, StoreReader(root / "store" / "faces") as faces, \
            StoreReader(root / "store" / "mfcc") as mfcc:
        ids = emb.clip_ids
        two_part = head.predict(emb.load(ids), verbose=0)
        one = full.predict({"faces": faces.load(ids, ["frames"])["frames"], "mfcc": mfcc.load(ids, ["mfcc"])["mfcc"]},
                           verbose=0)
    np.testing.assert_allclose(one, two_part, rtol=1e-4, atol=1e-5)
    assert np.abs(two_part - two_part.mean(axis=0)).max() > 1e-4  # predictions differ between clips

    # `avemo evaluate` runs on the assembled model unchanged.
    res = CliRunner().invoke(main, ["evaluate", "--variant", "transformer", "--model", str(tmp_path / "t.keras"),
                                    "--store", str(root / "store"), "--splits", str(splits),
                                    "--out", str(tmp_path / "m.json"), "--plots", str(tmp_path / "plots")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "m.json").read_text())["n"] == 6


def test_cli_embed_and_train_heads(demo_store, tmp_path):
    root, splits, model_path = demo_store
    runner = CliRunner()
    res = runner.invoke(main, ["embed", "--model", str(model_path), "--store", str(root / "store"),
                               "--out", str(tmp_path / "emb")])
    assert res.exit_code == 0, res.output
    assert "24 stored" in res.stderr
    res = runner.invoke(main, ["train", "--variant", "maxpool", "--embeddings", str(tmp_path / "emb"),
                               "--splits", str(splits), "--out", str(tmp_path / "mp.keras"), "--epochs", "2"])
    assert res.exit_code == 0, res.output
    assert "maxpool head: 2 epoch(s)" in res.stderr and (tmp_path / "mp.head.keras").is_file()
    res = runner.invoke(main, ["train", "--variant", "maxpool", "--embeddings", str(tmp_path / "emb"), "--splits",
                               str(splits), "--out", str(tmp_path / "m2.keras"), "--strategy", "mirrored"])
    assert res.exit_code != 0 and "head-only training runs on one device" in res.output
    assert not (tmp_path / "m2.keras").exists()
    res = runner.invoke(main, ["train", "--variant", "maxpool", "--splits", str(splits), "--out", "x.keras"])
    assert res.exit_code != 0 and "give --store" in res.output
    with pytest.raises(StoreError, match="not embeddings"):
        train_head("gru", root / "store" / "faces", splits, tmp_path / "x.keras", verbose=0)
