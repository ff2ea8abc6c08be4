"""The protocol beyond one split: actor-disjoint k-fold records (complete, sex-balanced), the
cells of `avemo cv` (folds x seeds x modalities, each trained once and kept), one-modality
ablation models, and the report's protocol section. Real TensorFlow training on tiny stores."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from avemo.cli import main
from avemo.errors import ConfigError, SplitError
from avemo.metadata import clip_names
from avemo.params import section
from avemo.pipeline.config import SplitConfig
from avemo.pipeline.corpus_cremad import row_of
from avemo.pipeline.split import check_folds, fold_path, make_folds, make_split
from avemo.splits import write_splits
from avemo.training.config import EvalConfig, TrainConfig
from avemo.training.cv import KEY_FILE, Cell, run_protocol
from avemo.training.models import load_model
from tests.stores import EMOS, write_tiny_store

FULL = [row_of(n) for n in clip_names() if n not in
        {"1076_MTI_NEU_XX", "1076_MTI_SAD_XX", "1064_TIE_SAD_XX", "1064_IEO_DIS_MD"}]
SEX = {r.actor: r.sex for r in FULL}


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 10), st.integers(1, 12), st.integers(0, 10_000), st.sampled_from(["sex", "none"]))
def test_folds_are_actor_disjoint_complete_and_balanced(k, val_actors, seed, stratify):
    cfg = SplitConfig(val_actors=val_actors, seed=seed, stratify=stratify)
    folds = make_folds(FULL, k, cfg)
    everyone = {r.actor for r in FULL}
    assert len(folds) == k and check_folds(folds) == []
    tested = Counter(a for f in folds for a in f.parts["test"].actors)
    assert set(tested) == everyone and set(tested.values()) == {1}  # every actor tested exactly once
    for i, f in enumerate(folds):
        parts = {name: set(p.actors) for name, p in f.parts.items()}
        assert not (parts["train"] & parts["val"] or parts["train"] & parts["test"] or parts["val"] & parts["test"])
        assert parts["train"] | parts["val"] | parts["test"] == everyone and len(parts["val"]) == val_actors
        assert f.params["folds"] == k and f.params["fold"] == i and f.labels == tuple(EMOS)
        assert sorted(c for p in f.parts.values() for c in p.clips) == sorted(r.clip_id for r in FULL)
    sizes = [len(f.parts["test"].actors) for f in folds]
    assert max(sizes) - min(sizes) <= 1
    if stratify == "sex":  # each fold's test actors hold the sexes as the corpus does, to one actor
        males = [sum(SEX[a] == "Male" for a in f.parts["test"].actors) for f in folds]
        assert max(males) - min(males) <= 1


def test_one_fold_is_the_single_split_and_impossible_folds_are_refused():
    assert make_folds(FULL, 1)[0].to_dict() == make_split(FULL).to_dict()
    few = [r for r in FULL if int(r.actor) <= 1004]
    with pytest.raises(SplitError, match="lower eval.folds"):
        make_folds(few, 3, SplitConfig(val_actors=2))
    broken = make_folds(FULL, 3)
    assert "expected folds 0..2" in check_folds(broken[:2])[0]
    assert any("more than one test fold" in p for p in check_folds([broken[0], broken[1], broken[1]]))
    with pytest.raises(ConfigError, match="eval.modalities"):
        section(EvalConfig, {"eval": {"modalities": ["av", "video"]}}, "eval")
    with pytest.raises(ConfigError, match="eval.seeds"):
        section(EvalConfig, {"eval": {"seeds": [1, 1]}}, "eval")


TRAIN = TrainConfig(schedule="paper", epochs=1, batch_size=4, lr=1e-3, variants=("maxpool", "gru"))
EVAL = EvalConfig(folds=2, seeds=(0, 1), modalities=("av", "face"), replicates=200)


@pytest.fixture(scope="module")
def protocol(tmp_path_factory):
    """A tiny synthetic store of 6 actors (labels learnable from either modality), its 2 folds,
    and the protocol run once: 2 variants x 2 modality sets x 2 folds x 2 seeds = 16 cells."""
    root = tmp_path_factory.mktemp("cv")
    store, _ = write_tiny_store(root, actors=6)
    rows = [row_of(f"{1001 + a}_DFA_{e}_XX") for a in range(6) for e in EMOS]
    for i, record in enumerate(make_folds(rows, 2, SplitConfig(val_actors=1, stratify="none"))):
        write_splits(record, fold_path(root / "folds", i))
    summary = run_protocol(root / "folds", store, root / "cells", root / "cv.json", TRAIN.variants, TRAIN, EVAL,
                           progress=False)
    return root, store, summary


def _again(root, store, evaluation=EVAL):
    return run_protocol(root / "folds", store, root / "cells", root / "cv.json", TRAIN.variants, TRAIN, evaluation,
                        progress=False)


def test_protocol_trains_each_cell_once_keeps_it_and_pools_every_fold(protocol):
    root, store, summary = protocol
    out = root / "cells"
    assert summary["active"] and summary["trained"] == 16
    assert json.loads((root / "cv.json").read_text()) == json.loads(json.dumps(summary))
    assert sorted(summary["rows"]) == ["gru", "gru (face)", "maxpool", "maxpool (face)"]
    for row in summary["rows"].values():
        assert sorted((p["seed"], p["fold"]) for p in row["per_fold"]) == [(s, f) for s in (0, 1) for f in range(2)]
        for seed in ("0", "1"):
            pooled = row["pooled_by_seed"][seed]
            assert pooled["n"] == 36 and pooled["interval"]["actors"] == 6  # every clip, every actor once
            f1 = [p["macro_f1"] for p in row["per_fold"] if str(p["seed"]) == seed]
            assert row["fold_mean"][seed] == pytest.approx(sum(f1) / 2)
        assert row["seed_std"] >= 0 and 0 <= row["seed_mean"] <= 1
    # the ablation is a one-modality model; its sidecar says which
    face = out / Cell("maxpool", "face", 0, 1).name
    assert [t.name for t in load_model(face / "model.keras").inputs] == ["faces"]
    assert json.loads((face / "model.json").read_text())["modalities"] == "face"
    # seeds change the model: the two seeds' fold-0 fused models differ
    w = [load_model(out / Cell("maxpool", "av", 0, s).name / "model.keras").get_layer("emotion").get_weights()[0]
         for s in (0, 1)]
    assert abs(w[0] - w[1]).max() > 1e-4
    # a re-run keeps every cell; a stopped cell (no key) is redone; new interval settings re-evaluate only
    again = _again(root, store)
    assert (again["trained"], again["evaluated"]) == (0, 0) and again["rows"] == summary["rows"]
    (face / KEY_FILE).unlink()
    assert _again(root, store)["trained"] == 1
    r = _again(root, store, EvalConfig(folds=2, seeds=(0, 1), modalities=("av", "face"), replicates=300))
    assert (r["trained"], r["evaluated"]) == (0, 16)
    assert r["rows"]["maxpool"]["pooled_by_seed"]["0"]["interval"]["replicates"] == 300
    _again(root, store)  # back to the fixture's settings for the other tests


def test_defaults_train_nothing_and_a_wrong_fold_count_is_refused(protocol, tmp_path):
    root, store, _ = protocol
    one = tmp_path / "one"
    write_splits(make_folds([row_of(f"{1001 + a}_DFA_{e}_XX") for a in range(6) for e in EMOS], 1,
                            SplitConfig(test_actors=1, val_actors=1))[0], fold_path(one, 0))
    r = run_protocol(one, store, tmp_path / "cells", tmp_path / "cv.json", ("gru",), TrainConfig(), EvalConfig(),
                     progress=False)
    assert r["active"] is False and not any((tmp_path / "cells").glob("gru-*"))
    with pytest.raises(SplitError, match="eval.folds is 5"):
        run_protocol(root / "folds", store, tmp_path / "c", tmp_path / "s.json", ("gru",), TrainConfig(),
                     EvalConfig(folds=5), progress=False)


def test_report_shows_folds_seeds_pooled_intervals_and_ablations(protocol, tmp_path):
    from avemo.training.report import make_report
    from tests.stores import crema_d_split_doc

    root, store, summary = protocol
    (tmp_path / "splits.json").write_text(json.dumps(crema_d_split_doc(["1001_DFA_ANG_XX"])))
    (tmp_path / "metrics").mkdir()
    text = make_report(tmp_path / "metrics", tmp_path / "splits.json", tmp_path / "reports", TRAIN.variants,
                       uncertainty=EVAL, cv_summary=root / "cv.json").read_text()
    section_text = text.split("## The protocol")[1]
    gru = json.loads((root / "cv.json").read_text())["rows"]["gru"]
    line = next(l for l in section_text.splitlines() if l.startswith("| gru |"))
    assert f"{gru['fold_mean']['0']:.3f} +- {gru['fold_std']['0']:.3f}" in line
    assert f"{gru['pooled_by_seed']['0']['macro_f1']:.3f} [" in line and f"{gru['seed_mean']:.3f} +-" in line
    assert "| model | fold 0 | fold 1 |" in section_text
    assert "## Paired comparisons over the folds" in section_text and "| gru | maxpool |" in section_text
    assert "What each modality contributes" in section_text and "| gru | gru (face) |" in section_text
    # the CLI runs it from params (every cell kept), and prints each row
    params = tmp_path / "params.yaml"
    params.write_text("eval: {folds: 2, seeds: [0, 1], modalities: [av, face], replicates: 200}\n"
                      "train: {schedule: paper, epochs: 1, batch_size: 4, lr: 0.001, variants: [maxpool, gru]}\n")
    res = CliRunner().invoke(main, ["--params", str(params), "cv", "--folds", str(root / "folds"), "--store",
                                    str(store), "--out", str(root / "cells"), "--summary", str(tmp_path / "c.json")])
    assert res.exit_code == 0, res.output
    assert "0 cell(s) trained" in res.stderr and "cv maxpool (face): macro F1 over folds" in res.stderr
