from dataclasses import replace

import csv
import json
import os

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from avemo.cli import main
from avemo.errors import SplitError, StoreError
from avemo.splits import read_splits
from avemo.training.config import VARIANTS, TrainConfig
from avemo.training.data import load_split, open_stores
from avemo.training.metrics import classification_report
from avemo.training.models import ConvBlock, TransformerEncoder, bn_momentum_for, build_model, load_model
from avemo.training.report import make_report
from avemo.training.train import train_variant
from tests.stores import EMOS, clip_arrays, crema_d_split_doc, write_tiny_store


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A real two-modality store (12 actors x 6 emotions) and an actor-disjoint split."""
    return write_tiny_store(tmp_path_factory.mktemp("tiny"))


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_structure(variant):
    model = build_model(variant)
    names = {l.name: l for l in model.layers}
    assert model.output_shape == (None, 6)
    assert names["emotion"].activation.__name__ == "softmax" and names["emotion"].units == 6
    assert names["dense128"].units == 128 and names["dense64"].units == 64
    assert names["face_embed"].layer.units == 64 and names["audio_embed"].layer.units == 64
    cnn = names["face_cnn_steps"].layer
    blocks = [l for l in cnn.layers if isinstance(l, ConvBlock)]
    convs = [b.conv for b in blocks]
    assert [c.filters for c in convs] == [32, 32, 32] and all(c.kernel_size == (3, 3) for c in convs)
    assert all(not c.use_bias and c.padding == "same" for c in convs)
    assert all(isinstance(b.bn, keras.layers.BatchNormalization) for b in blocks)
    assert all(b.pool.pool_size == (2, 2) for b in blocks)
    assert cnn.output.shape[1:] == (8 * 8 * 32,)  # three 2x2 poolings of 64x64
    assert names["face_embed"].output.shape[1:] == (50, 64) and names["audio_embed"].output.shape[1:] == (9, 64)
    assert cnn.input.shape[1:] == (64, 64, 3) and names["audio_cnn_steps"].layer.input.shape[1:] == (40, 40, 1)
    if variant in ("gru", "lstm"):
        assert names[f"face_{variant}"].units == 128 and names[f"audio_{variant}"].units == 128
    if variant == "transformer":
        enc = names["face_encoder"]
        assert isinstance(enc, TransformerEncoder)
        assert enc.attention.num_heads == 4 and enc.attention.key_dim * 4 == 64 and enc.ff_dim == 64
        assert isinstance(names["face_maxpool"], keras.layers.GlobalMaxPooling1D)
    if variant == "maxpool":
        assert isinstance(names["face_maxpool"], keras.layers.GlobalMaxPooling1D)
        assert names["face_linear"].activation.__name__ == "linear"


@pytest.mark.parametrize("variant", VARIANTS)
def test_trains_saves_and_loads(tiny, tmp_path, variant):
    store, splits = tiny
    cfg = TrainConfig(schedule="paper", epochs=4, batch_size=8, lr=2e-3, patience=10, seed=1)
    r = train_variant(variant, store, splits, tmp_path / f"{variant}.keras", cfg,
                      history_csv=tmp_path / "history.csv", verbose=0)
    loss = r.history["loss"]
    assert loss[-1] < loss[0]  # real training steps make the loss fall
    assert r.n_train == 48 and r.n_val == 12
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    assert len(rows) == 4 and "val_loss" in rows[0]
    side = json.loads((tmp_path / f"{variant}.json").read_text())
    assert len(side["mfcc_mean"]) == 40 and side["best_epoch"] >= 1
    model = load_model(r.model_path)  # safe mode
    rng = np.random.default_rng(5)
    f, m = clip_arrays(2, rng)
    x = {"faces": f[None], "mfcc": m[None]}
    # the file holds the trained model: its predictions are the trained model's own
    np.testing.assert_allclose(model.predict(x, verbose=0), r.model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


def test_batchnorm_statistics_settle_on_a_small_training_set(tiny, tmp_path):
    """48 training clips at batch 8 are 6 steps an epoch: with Keras' default momentum (0.99)
    the moving averages that inference normalises with would still be ~90% their initial values
    after two epochs; the trained model's must be close to the data's."""
    store, splits = tiny
    r = train_variant("maxpool", store, splits, tmp_path / "m.keras",
                      TrainConfig(schedule="paper", epochs=2, batch_size=8, lr=1e-3, patience=5, seed=0), verbose=0)
    model = load_model(r.model_path)
    cnn = model.get_layer("face_cnn_steps").layer
    bn = cnn.get_layer("block1").bn
    assert bn.momentum == pytest.approx(1 - 1 / 6)
    conv = cnn.get_layer("block1").conv
    data = load_split(open_stores(store), read_splits(splits).labelled("train"), "train")
    x = data.inputs["faces"].reshape(-1, *data.inputs["faces"].shape[2:]).astype("float32") / 255
    act = np.asarray(conv(x)).reshape(-1, 32)
    true_var, moving_var = act.var(axis=0), np.asarray(bn.moving_variance)
    # how far the moving variance still is from the data's, relative to where it started (1.0)
    lag = np.abs(moving_var - true_var) / np.abs(1.0 - true_var)
    assert np.median(lag) < 0.25, np.median(lag)


def test_batchnorm_momentum_is_keras_default_on_large_training_sets():
    assert bn_momentum_for(363) == 0.99 and bn_momentum_for(100) == 0.99  # full CREMA-D
    assert bn_momentum_for(4) == pytest.approx(0.75)  # the demo corpus: 60 clips at batch 16


@pytest.mark.parametrize("stack", ["face_cnn_steps", "audio_cnn_steps"])
def test_batchnorm_normalises_all_time_steps_with_one_set_of_statistics(stack):
    """Inference normalises every time step with the moving averages, so training must normalise
    a batch with one set of statistics over all its steps too. With momentum 0 the averages are
    the last training batch's statistics, and inference on that batch must then give exactly the
    training-mode output; a per-step BatchNorm (Keras 3's TimeDistributed calls the CNN once per
    step, each with its own statistics) fails this wherever the steps differ, as MFCC windows of
    speech and of padding do."""
    model = build_model("maxpool", (4, 16, 16, 3), (3, 8, 8), bn_momentum=(0.0, 0.0))
    layer = model.get_layer(stack)
    rng = np.random.default_rng(0)
    shape = (6, *layer.input.shape[1:])
    x = rng.normal(size=shape).astype("float32") * np.arange(1, shape[1] + 1).reshape(1, -1, *[1] * (len(shape) - 2))
    x += np.arange(shape[1]).reshape(1, -1, *[1] * (len(shape) - 2))  # every step its own mean and spread
    trained = np.asarray(layer(x, training=True))  # updates the averages to this batch's statistics
    np.testing.assert_allclose(np.asarray(layer(x, training=False)), trained, rtol=1e-3, atol=1e-3)


def test_training_is_deterministic(tiny, tmp_path):
    store, splits = tiny
    cfg = TrainConfig(schedule="paper", epochs=2, batch_size=8, lr=1e-3, seed=3)
    a = train_variant("maxpool", store, splits, tmp_path / "a.keras", cfg, verbose=0)
    b = train_variant("maxpool", store, splits, tmp_path / "b.keras", cfg, verbose=0)
    wa, wb = load_model(a.model_path).get_weights(), load_model(b.model_path).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(wa, wb))
    assert a.history["loss"] == b.history["loss"]


def test_metrics_against_a_hand_computed_example():
    y_true = np.array([0, 0, 0, 1, 1, 2, 3, 4, 5, 5])
    y_pred = np.array([0, 0, 1, 1, 1, 2, 3, 4, 5, 0])
    r = classification_report(y_true, y_pred)
    # ANG: tp 2, predicted 3 (two ANG + one SAD), support 3 -> P 2/3, R 2/3, F1 2/3
    assert r["per_class"]["ANG"] == pytest.approx({"precision": 2 / 3, "recall": 2 / 3, "f1": 2 / 3, "support": 3})
    # DIS: tp 2, predicted 3, support 2 -> P 2/3, R 1, F1 0.8
    assert r["per_class"]["DIS"]["f1"] == pytest.approx(0.8)
    # SAD: tp 1, predicted 1, support 2 -> P 1, R 0.5, F1 2/3
    assert r["per_class"]["SAD"]["recall"] == pytest.approx(0.5)
    assert r["accuracy"] == pytest.approx(0.8)
    assert r["macro"]["f1"] == pytest.approx((2 / 3 + 0.8 + 1 + 1 + 1 + 2 / 3) / 6)
    assert r["weighted"]["f1"] == pytest.approx((3 * 2 / 3 + 2 * 0.8 + 1 + 1 + 1 + 2 * 2 / 3) / 10)
    assert r["confusion"][5][0] == 1 and np.sum(r["confusion"]) == 10


def test_macro_averages_run_over_the_classes_present():
    """A class that is predicted but never true counts in per-class and weighted numbers, not in
    the macro average (the metrics JSON keeps the keys the report and DVC read)."""
    r = classification_report(np.array([0, 0, 1]), np.array([0, 2, 1]))
    assert r["per_class"]["FEA"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert r["macro"]["recall"] == pytest.approx((0.5 + 1) / 2)
    assert r["macro"]["precision"] == pytest.approx(1.0)
    assert set(r) == {"per_class", "macro", "weighted", "uar", "accuracy", "n", "confusion"} and r["n"] == 3
    assert r["uar"] == r["macro"]["recall"]
    empty = classification_report(np.array([], int), np.array([], int))  # e.g. a split with no clip stored
    assert empty["n"] == 0 and empty["macro"]["f1"] == 0.0 and set(empty) == set(r)


def test_report_has_four_rows_and_the_crowd_baseline(tmp_path):
    from avemo.metadata import clip_names

    test_clips = [c for c in clip_names() if c.startswith(("1001_", "1002_"))]
    (tmp_path / "splits.json").write_text(json.dumps(crema_d_split_doc(test_clips)))
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    rng = np.random.default_rng(0)
    y = np.array([EMOS.index(c.split("_")[2]) for c in test_clips])
    reports = {}
    for v in VARIANTS:
        pred = np.where(rng.random(len(y)) < 0.6, y, rng.integers(0, 6, len(y)))
        reports[v] = classification_report(y, pred)
        (metrics / f"{v}.json").write_text(json.dumps(reports[v]))
    md = make_report(metrics, tmp_path / "splits.json", tmp_path / "reports")
    text = md.read_text()
    table = [l for l in text.split("## Per-class")[0].splitlines() if l.startswith("| ") and "---" not in l][1:]
    assert len(table) == 4
    for v, row in zip(VARIANTS, table):  # each row holds its own variant's measured numbers beside the paper's
        cells = [c.strip() for c in row.strip("|").split("|")]
        m = reports[v]["macro"]
        assert cells[1:5] == [f"{m['precision']:.3f}", f"{m['recall']:.3f}", f"{m['f1']:.3f}",
                              f"{reports[v]['accuracy']:.3f}"], (v, row)
        assert cells[5] == {"gru": "0.640", "lstm": "0.638", "transformer": "0.625", "maxpool": "0.626"}[v]
    assert "Human baseline" in text and "| multimodal |" in text
    assert "trained on crema-d, tested on crema-d" in text
    assert (tmp_path / "reports" / "macro_scores.png").stat().st_size > 10_000
    # models of another corpus on these clips (cross-corpus): named so, no paper figures, no crowd
    cross = tmp_path / "cross"
    cross.mkdir()
    for v in VARIANTS:
        (cross / f"{v}.json").write_text(json.dumps({**reports[v], "train_corpus": "ravdess", "test_corpus": "crema-d",
                                                     "labels": list(EMOS), "unmapped": 3,
                                                     "unmapped_labels": {"CAL": 3}}))
    text = make_report(cross, tmp_path / "splits.json", tmp_path / "r0").read_text()
    assert "models trained on ravdess: cross-corpus" in text and "trained on ravdess, tested on crema-d" in text
    assert "0.640" not in text.split("## Per-class")[0]  # the paper figures are for CREMA-D-trained models
    assert "Left out: 3 clip(s) whose label the models lack (CAL 3)" in text
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "AVEMO_DEMO_CORPUS.txt").write_text("demo")
    text = make_report(metrics, tmp_path / "splits.json", tmp_path / "r2", corpus_root=demo).read_text()
    assert "Demo corpus" in text and "Human baseline" not in text
    assert "head-only" not in text  # no head-only metrics: no side-by-side table
    heads = tmp_path / "heads"
    heads.mkdir()
    (heads / "lstm.json").write_text(json.dumps(classification_report(y, y)))
    text = make_report(metrics, tmp_path / "splits.json", tmp_path / "r3", heads_dir=heads,
                       heads_backbone="gru").read_text()
    side = text.split("side by side")[1].split("## ")[0]
    assert "**gru**" in side
    rows = {l.split(" | ")[0].strip("| "): l.split(" | ") for l in side.splitlines() if l.startswith("| ") and "---" not in l}
    assert rows["LSTM (128)"][2] == "1.000" and rows["GRU (128)"][2] == "-"
    assert rows["GRU (128)"][1] == table[0].split(" | ")[3]  # the end-to-end F1 beside it


def test_clear_errors_for_empty_split_and_missing_modality(tiny, tmp_path):
    store, splits = tiny
    doc = json.loads(splits.read_text())
    doc["splits"]["train"].update(clips=[], labels=[], speakers=[])
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps(doc))
    with pytest.raises(SplitError, match="the train split of .* has no clips .* re-make the split"):
        train_variant("gru", store, empty, tmp_path / "m.keras", TrainConfig(schedule="paper", epochs=1), verbose=0)
    only_mfcc = tmp_path / "store"
    only_mfcc.mkdir()
    import shutil

    shutil.copytree(store / "mfcc", only_mfcc / "mfcc")
    with pytest.raises(StoreError, match="lacks the faces modality"):
        train_variant("gru", only_mfcc, splits, tmp_path / "m.keras", TrainConfig(schedule="paper", epochs=1), verbose=0)


def test_cli_train_evaluate(tiny, tmp_path):
    store, splits = tiny
    runner = CliRunner()
    model = tmp_path / "models" / "lstm.keras"
    res = runner.invoke(main, ["train", "--variant", "lstm", "--store", str(store), "--splits", str(splits),
                               "--out", str(model), "--history", str(tmp_path / "h.csv"), "--epochs", "1",
                               "--batch-size", "8"])
    assert res.exit_code == 0, res.output
    assert "1 epoch(s)" in res.stderr and model.is_file()
    res = runner.invoke(main, ["evaluate", "--variant", "lstm", "--model", str(model), "--store", str(store),
                               "--splits", str(splits), "--out", str(tmp_path / "lstm.json"),
                               "--plots", str(tmp_path / "plots")])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "lstm.json").read_text())
    preds = list(csv.DictReader(open(tmp_path / "plots" / "predictions.csv")))
    assert len(preds) == 12 and abs(sum(float(preds[0][f"p_{e}"]) for e in EMOS) - 1) < 1e-4
    # the metrics are those of the written predictions (scikit-learn's macro F1 over the classes present)
    from sklearn.metrics import accuracy_score, f1_score

    true, pred = [r["true"] for r in preds], [r["predicted"] for r in preds]
    assert m["n"] == 12 and set(m["per_class"]) == set(EMOS)
    assert m["macro"]["f1"] == pytest.approx(f1_score(true, pred, average="macro", labels=sorted(set(true))))
    assert m["accuracy"] == pytest.approx(accuracy_score(true, pred))
    assert all(max(EMOS, key=lambda e: float(r[f"p_{e}"])) == r["predicted"] for r in preds)
    # actor-level uncertainty: an interval around each score, and per-actor confusions of these clips
    ci = m["interval"]
    assert ci["actors"] == len(m["actor_confusion"]) == len({r["clip_id"][:4] for r in preds})
    assert ci["macro_f1"][0] <= m["macro"]["f1"] <= ci["macro_f1"][1] and ci["replicates"] == 2000
    assert sum(np.sum(c) for c in m["actor_confusion"].values()) == 12
    assert (tmp_path / "plots" / "confusion.png").stat().st_size > 5_000
    assert len(list(csv.DictReader(open(tmp_path / "plots" / "confusion.csv")))) == 12


def test_streaming_path_trains_on_the_same_clips(tiny, tmp_path):
    store, splits = tiny
    cfg = TrainConfig(schedule="paper", epochs=2, batch_size=8, lr=2e-3, seed=2, stream=True)
    r = train_variant("maxpool", store, splits, tmp_path / "s.keras", cfg, verbose=0)
    assert r.n_train == 48 and r.n_val == 12 and len(r.history["loss"]) == 2
    assert all(np.isfinite(r.history["loss"])) and r.history["loss"][1] < r.history["loss"][0]
    assert load_model(r.model_path).output_shape == (None, 6)
    assert json.loads((tmp_path / "s.json").read_text())["low_memory"] is True  # train.low_memory: auto


def test_every_input_mode_learns_the_same_model(tiny, tmp_path):
    """One seed, one store, three ways to feed it (in memory; streamed from the shards; streamed
    with the lean first block, as `train.stream: auto` picks on a machine with less memory): the
    same MFCC statistics, batches and losses, and the same weights: bit for bit between the two
    plain runs (two epochs: the reshuffle too), to float rounding with the lean block (one epoch:
    Adam turns a rounding difference in a near-zero gradient into up to a step of lr, and such
    differences compound over later steps)."""
    store, splits = tiny
    runs = {}
    for mode, stream, lean, epochs in (("memory", False, False, 2), ("streamed", True, False, 2),
                                       ("memory1", False, False, 1), ("lean", True, True, 1)):
        cfg = TrainConfig(schedule="paper", epochs=epochs, batch_size=8, lr=1e-3, seed=4, stream=stream, low_memory=lean)
        r = train_variant("maxpool", store, splits, tmp_path / f"{mode}.keras", cfg, verbose=0)
        side = json.loads((tmp_path / f"{mode}.json").read_text())
        assert (side["stream"], side["low_memory"]) == (stream, lean)
        assert (side["threads"], side["cores"]) == (0, os.cpu_count())  # what sets the float rounding
        runs[mode] = (load_model(r.model_path).get_weights(), r.history, side)
    memory, streamed = runs["memory"], runs["streamed"]
    for run in (streamed, runs["lean"]):  # statistics of the whole train split in every mode
        assert run[2]["mfcc_mean"] == memory[2]["mfcc_mean"] and run[2]["mfcc_var"] == memory[2]["mfcc_var"]
    assert streamed[1] == memory[1]
    assert all(np.array_equal(a, b) for a, b in zip(streamed[0], memory[0]))
    lean, plain = runs["lean"], runs["memory1"]
    assert lean[1]["loss"] == pytest.approx(plain[1]["loss"], rel=1e-4)
    for a, b in zip(lean[0], plain[0]):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)


def test_mfcc_statistics_are_the_whole_split_s_in_either_mode(tiny, monkeypatch):
    """The streamed statistics are an exact chunked reduction over every training clip (not a
    sample of the first ones): the same bits as in memory, and numpy's mean and variance of the
    whole split to float64 rounding, whatever the chunk size."""
    from avemo.training import data as data_mod

    store, splits = tiny
    readers = open_stores(store)
    train = data_mod.select(readers, read_splits(splits).labelled("train"), "train")
    loaded = data_mod.load_inputs(readers, data_mod.select(readers, dict(zip(train.clip_ids, train.labels)), "train"))
    flat = loaded.inputs["mfcc"].reshape(-1, loaded.inputs["mfcc"].shape[-1]).astype(np.float64)
    for chunk in (7, 48, 256):
        monkeypatch.setattr(data_mod, "STATS_CHUNK", chunk)
        streamed = data_mod.split_mfcc_statistics(data_mod.ClipSource(train, data_mod.END_TO_END, readers))
        in_memory = data_mod.split_mfcc_statistics(data_mod.ClipSource(loaded, data_mod.END_TO_END))
        assert all(np.array_equal(a, b) for a, b in zip(streamed, in_memory))
        np.testing.assert_allclose(streamed[0], flat.mean(0), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(streamed[1], flat.var(0), rtol=1e-10)


def test_the_clip_order_of_an_epoch_depends_on_the_seed_and_epoch_alone():
    from avemo.training.data import epoch_order

    a = epoch_order(50, 3, 0, True)
    assert sorted(a) == list(range(50)) and np.array_equal(a, epoch_order(50, 3, 0, True))
    assert not np.array_equal(a, epoch_order(50, 3, 1, True))  # reshuffled every epoch
    assert not np.array_equal(a, epoch_order(50, 4, 0, True))
    assert np.array_equal(epoch_order(5, 3, 7, False), np.arange(5))


def test_stream_auto_decides_by_the_memory_budget():
    from avemo.errors import ConfigError
    from avemo.params import section
    from avemo.training.memory import decide_stream

    assert decide_stream("auto", int(0.5e9), memory_gb=1)[0] is False
    stream, why = decide_stream("auto", int(2e9), memory_gb=1)
    assert stream and "2.0 GB" in why and "1 GB (train.memory_gb)" in why
    assert decide_stream(True, 1, memory_gb=1)[0] is True
    with pytest.raises(ConfigError, match=r"needs ~2.0 GB .* set train.stream: auto or true"):
        decide_stream(False, int(2e9), memory_gb=1)
    assert decide_stream("auto", 1)[0] is False  # a byte fits any machine's available memory
    assert section(TrainConfig, {}, "train").stream == "auto"
    with pytest.raises(ConfigError, match="train.stream must be auto, true or false"):
        section(TrainConfig, {"train": {"stream": "sometimes"}}, "train")
    assert section(TrainConfig, {}, "train").low_memory == "auto"
    with pytest.raises(ConfigError, match="train.low_memory must be auto, true or false"):
        section(TrainConfig, {"train": {"low_memory": "yes"}}, "train")


def test_in_memory_training_over_budget_streams_or_stops_before_loading(tiny, tmp_path):
    """The tiny splits need ~60 MB in memory (arrays and a step's activations): under a 1 MB
    budget `auto` streams them, and
    `false` stops with the figures before any model is built or file written."""
    from avemo.errors import ConfigError

    store, splits = tiny
    cfg = TrainConfig(schedule="paper", epochs=1, batch_size=8, lr=1e-3, seed=0, memory_gb=0.001)
    r = train_variant("maxpool", store, splits, tmp_path / "auto.keras", cfg, verbose=0)
    side = json.loads((tmp_path / "auto.json").read_text())
    assert side["stream"] is True and "streaming from the shards" in r.input and r.n_train == 48
    r = train_variant("maxpool", store, splits, tmp_path / "mem.keras", TrainConfig(schedule="paper", epochs=1, batch_size=8), verbose=0)
    assert json.loads((tmp_path / "mem.json").read_text())["stream"] is False and "in memory" in r.input
    with pytest.raises(ConfigError, match="in-memory training needs"):
        train_variant("maxpool", store, splits, tmp_path / "no.keras",
                      TrainConfig(schedule="paper", epochs=1, batch_size=8, stream=False, memory_gb=0.001), verbose=0)
    assert not (tmp_path / "no.keras").exists() and not (tmp_path / "no.json").exists()


def test_schedule_auto_is_the_papers_on_a_large_split_and_converge_on_a_small_one():
    cfg = TrainConfig(epochs=15, lr=1e-4, patience=5, converge_epochs=200, converge_lr=1e-3, converge_patience=10,
                      paper_min_clips=2000)
    paper, rec = cfg.for_split(5700)  # CREMA-D's training split: exactly the paper's settings
    assert paper == cfg and rec["name"] == "paper" and (rec["epochs"], rec["lr"], rec["patience"]) == (15, 1e-4, 5)
    small, rec = cfg.for_split(60)
    assert rec["name"] == "converge" and (small.epochs, small.lr, small.patience) == (200, 1e-3, 10)
    assert small.batch_size == cfg.batch_size and "60 training clips < train.paper_min_clips 2000" in rec["why"]
    forced, rec = replace(cfg, schedule="paper").for_split(60)
    assert forced.epochs == 15 and rec["why"] == "train.schedule: paper"


def test_mirrored_strategy_on_two_logical_cpu_devices(tiny, tmp_path):
    """MirroredStrategy on CPU: a fresh process (logical devices must precede TensorFlow's first op)."""
    import os
    import subprocess
    import sys

    store, splits = tiny
    out = tmp_path / "m.keras"
    proc = subprocess.run([sys.executable, "-m", "avemo", "train", "--variant", "maxpool", "--store", str(store),
                           "--splits", str(splits), "--out", str(out), "--epochs", "2", "--batch-size", "8",
                           "--lr", "0.002", "--strategy", "mirrored", "--cpu-devices", "2"],
                          capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 replica(s)" in proc.stderr
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["replicas"] == 2 and sidecar["train"]["strategy"] == "mirrored"
    assert sidecar["epochs_run"] == 2 and np.isfinite(sidecar["best_val_loss"])
    assert load_model(out).output_shape == (None, 6)
