"""The trainer learns, end to end through the real CLI: on a corpus made from the real CREMA-D
clips (the demo corpus: each emotion one real clip, jittered per pseudo-actor; unseen actors in test),
every variant reaches macro F1 >= 0.85 on the 18 test clips (two errors give ~0.89) and the
four average >= 0.9; the same run with the labels permuted at random within each actor stays
near chance. A pipeline that misaligns labels and inputs
anywhere (manifest, split, store, input pipeline, model, predictions, metrics) fails the first
half, and so does a trainer that ignores its labels."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from avemo.cli import main
from avemo.names import EMOTIONS
from avemo.pipeline.config import DemoConfig
from avemo.pipeline.demo import build_demo_corpus
from avemo.training.config import VARIANTS

ACTORS = 24  # 3 test, 3 validation, 18 training actors (108 training clips)
#: Small frames keep it CI-sized; the model is the paper's, with a higher learning rate so that
#: it converges within the epochs given (patience: the best validation loss is restored).
PARAMS = {"split": {"test_actors": 3, "val_actors": 3, "stratify": "none", "seed": 0},
          "faces": {"n_frames": 8, "size": 32},
          "train": {"schedule": "paper", "epochs": 30, "batch_size": 8, "lr": 0.001, "patience": 8, "seed": 0, "threads": 2}}


def _invoke(*args) -> None:
    res = CliRunner().invoke(main, list(map(str, args)))
    assert res.exit_code == 0, f"avemo {' '.join(map(str, args))}:\n{res.output}\n{res.exception!r}"


def _permuted_copy(corpus: Path, out: Path, seed: int = 0) -> None:
    """The same files under names whose emotion is a random permutation within each actor: the
    labels no longer say anything about the content."""
    rng = np.random.default_rng(seed)
    for kind in ("VideoFlash", "AudioWAV"):
        (out / kind).mkdir(parents=True)
    actors = sorted({p.name[:4] for p in (corpus / "VideoFlash").glob("*.flv")})
    for actor in actors:
        new = dict(zip(EMOTIONS, rng.permutation(EMOTIONS)))
        for kind, ext in (("VideoFlash", ".flv"), ("AudioWAV", ".wav")):
            for src in (corpus / kind).glob(f"{actor}_*{ext}"):
                a, s, e, lvl = src.stem.split("_")
                os.link(src, out / kind / f"{a}_{s}_{new[e]}_{lvl}{ext}")


def _run(root: Path, corpus: Path) -> dict[str, dict]:
    """manifest -> split -> extract -> train -> evaluate, every variant; -> variant: metrics."""
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump(PARAMS))
    p = ("--params", params)
    _invoke(*p, "manifest", "--root", corpus, "--out", root / "manifest.csv")
    _invoke(*p, "split", "--manifest", root / "manifest.csv", "--out", root / "splits.json")
    for modality in ("faces", "mfcc"):
        _invoke(*p, "extract", modality, "--manifest", root / "manifest.csv", "--out", root / "store" / modality)
    out = {}
    for v in VARIANTS:
        _invoke(*p, "train", "--variant", v, "--store", root / "store", "--splits", root / "splits.json",
                "--out", root / "models" / f"{v}.keras")
        _invoke(*p, "evaluate", "--variant", v, "--model", root / "models" / f"{v}.keras", "--store", root / "store",
                "--splits", root / "splits.json", "--out", root / "eval" / f"{v}.json", "--plots", root / "plots" / v)
        out[v] = json.loads((root / "eval" / f"{v}.json").read_text())
    return out


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, crema_dir) -> Path:
    out = tmp_path_factory.mktemp("learn") / "corpus"
    build_demo_corpus(crema_dir, out, DemoConfig(actors=ACTORS, seed=7), jobs=2, progress=False)
    return out


@pytest.mark.slow
def test_every_variant_learns_unseen_actors(corpus, tmp_path):
    results = _run(tmp_path, corpus)
    splits = json.loads((tmp_path / "splits.json").read_text())["splits"]
    test_actors = splits["test"]["actors"]
    assert not set(test_actors) & set(splits["train"]["actors"]) and len(test_actors) == 3
    scores = {v: round(m["macro"]["f1"], 3) for v, m in results.items()}
    for v, m in results.items():
        assert m["n"] == 18, v
        assert m["macro"]["f1"] >= 0.85, f"macro F1 on unseen actors: {scores}"
        rows = list(csv.DictReader(open(tmp_path / "plots" / v / "predictions.csv")))
        assert [r["true"] for r in rows] == [r["clip_id"].split("_")[2] for r in rows]  # the manifest's labels (CREMA-D's names)
        assert np.mean([r["true"] == r["predicted"] for r in rows]) == pytest.approx(m["accuracy"])
        assert all(r["clip_id"][:4] in test_actors for r in rows)
    assert np.mean(list(scores.values())) >= 0.9, scores


@pytest.mark.slow
def test_with_permuted_labels_it_stays_near_chance(corpus, tmp_path):
    _permuted_copy(corpus, tmp_path / "permuted")
    results = _run(tmp_path, tmp_path / "permuted")
    scores = {v: round(m["macro"]["f1"], 3) for v, m in results.items()}
    assert all(f < 0.5 for f in scores.values()), f"macro F1 with permuted labels: {scores}"
    assert np.mean(list(scores.values())) < 0.4, scores
