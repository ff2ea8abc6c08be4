import json
from dataclasses import replace

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from avemo.cli import main
from avemo.errors import SplitError
from avemo.metadata import clip_names, demographics
from avemo.names import EMOTIONS
from avemo.pipeline.config import SplitConfig
from avemo.pipeline.corpus_cremad import row_of
from avemo.pipeline.manifest import ManifestResult, write_manifest
from avemo.pipeline.split import check_leakage, speaker_finder
from avemo.pipeline.split import make_split as _make_split
from avemo.splits import Splits, read_splits

EXCLUDED = {"1076_MTI_NEU_XX", "1076_MTI_SAD_XX", "1064_TIE_SAD_XX", "1064_IEO_DIS_MD"}


def _rows(names):
    return [row_of(n) for n in names]


def make_split(rows, cfg):
    """The split as the JSON document it is written as (the layout is a data contract)."""
    return _make_split(rows, cfg).to_dict()


FULL = _rows([n for n in clip_names() if n not in EXCLUDED])


def _check_invariants(doc, rows, cfg):
    splits = doc["splits"]
    actor_sets = [set(splits[s]["actors"]) for s in ("train", "val", "test")]
    assert not (actor_sets[0] & actor_sets[1] or actor_sets[0] & actor_sets[2] or actor_sets[1] & actor_sets[2])
    assert set().union(*actor_sets) == {r.actor for r in rows}
    assert len(actor_sets[2]) == cfg.test_actors and len(actor_sets[1]) == cfg.val_actors
    all_clips = sorted(c for s in splits.values() for c in s["clips"])
    assert all_clips == sorted(r.clip_id for r in rows)
    for s in splits.values():
        assert sum(s["class_counts"].values()) == s["n_clips"] == len(s["clips"])
        assert {c[:4] for c in s["clips"]} <= set(s["actors"])
        # every clip's label and speaker recorded beside it, from the rows (never re-read from a name)
        by_id = {r.clip_id: r for r in rows}
        assert s["labels"] == [by_id[c].label for c in s["clips"]]
        assert s["speakers"] == [by_id[c].actor for c in s["clips"]]


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 15), st.integers(1, 15), st.integers(0, 10_000), st.sampled_from(["sex", "none"]))
def test_split_invariants_on_full_crema_d(test_actors, val_actors, seed, stratify):
    cfg = SplitConfig(test_actors=test_actors, val_actors=val_actors, seed=seed, stratify=stratify)
    _check_invariants(make_split(FULL, cfg), FULL, cfg)


def test_deterministic_for_a_seed_and_seed_matters():
    a = make_split(FULL, SplitConfig(seed=3))
    assert a == make_split(FULL, SplitConfig(seed=3))
    assert a["splits"]["test"]["actors"] != make_split(FULL, SplitConfig(seed=4))["splits"]["test"]["actors"]


def test_paper_sized_test_split_and_sex_balance():
    doc = make_split(FULL, SplitConfig())
    sizes = [make_split(FULL, SplitConfig(seed=s))["splits"]["test"]["n_clips"] for s in range(10)]
    assert all(780 <= n <= 860 for n in sizes), sizes  # the paper's test split has ~820 clips
    sex = demographics()
    for split in ("test", "val"):
        sexes = [sex[int(a)]["Sex"] for a in doc["splits"][split]["actors"]]
        assert sexes.count("Male") == 5 and sexes.count("Female") == 5  # 48:43 of 10 -> 5:5
    assert doc["method"] == "actor-disjoint, stratified by sex" and doc["seed"] == 0


def test_too_few_actors_is_a_clear_error():
    rows = _rows([n for n in clip_names() if int(n[:4]) <= 1015])
    with pytest.raises(SplitError, match="15 actor"):
        make_split(rows, SplitConfig(test_actors=10, val_actors=10))


def test_leakage_check():
    assert check_leakage({"a": ["1001_DFA_ANG_XX"], "b": ["1002_DFA_ANG_XX"]}) == {}
    leaks = check_leakage({"a": ["1001_DFA_ANG_XX", "1001_IEO_ANG_XX"], "b": ["1001_DFA_SAD_XX"]})
    assert leaks == {"1001": {"a": 2, "b": 1}}
    # RAVDESS names are read too (actor = the last field), and a manifest's speakers win over names
    assert check_leakage({"a": ["01-01-05-01-01-01-03"], "b": ["01-01-04-01-01-01-03"]}) == {"03": {"a": 1, "b": 1}}
    rows = [replace(row_of("1001_DFA_ANG_XX"), actor="x"), replace(row_of("1002_DFA_ANG_XX"), actor="x")]
    assert check_leakage({"a": ["1001_DFA_ANG_XX"], "b": ["1002_DFA_ANG_XX"]}, speaker_finder(rows)) == {"x": {"a": 1, "b": 1}}
    with pytest.raises(SplitError, match="lab/take_1.*speaker is unknown"):
        check_leakage({"a": ["lab/take_1"]})


def test_cli_split_and_check(tmp_path, real_corpus):
    manifest, _ = write_manifest(ManifestResult(FULL, kind="crema-d", labels=EMOTIONS), tmp_path, tmp_path / "m.csv")
    out = tmp_path / "splits.json"
    runner = CliRunner()
    res = runner.invoke(main, ["split", "--manifest", str(manifest), "--out", str(out), "--seed", "7",
                               "--test-actors", "12"])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert len(doc["splits"]["test"]["actors"]) == 12 and doc["seed"] == 7
    assert Splits.from_dict(doc).to_dict() == doc == read_splits(out).to_dict()  # the record round-trips
    assert list(doc) == ["format", "corpus", "labels", "media", "method", "seed", "params", "splits"]
    assert list(doc["splits"]) == ["train", "val", "test"] and doc["corpus"] == "crema-d" and doc["labels"] == list(EMOTIONS)
    res = runner.invoke(main, ["split", "--check", str(out)])
    assert res.exit_code == 0 and "no speaker leakage" in res.output
    # Another project's per-split CSV lists, with one actor leaking from train into test.
    train = tmp_path / "train.csv"
    test = tmp_path / "test.csv"
    train.write_text("path,label\n" + "".join(f"AudioWAV/{c}.wav,0\n" for c in doc["splits"]["train"]["clips"]))
    leaked = doc["splits"]["train"]["clips"][0]
    test.write_text("idx,file\n" + "".join(f"{i},{c}\n" for i, c in enumerate(doc["splits"]["test"]["clips"] + [leaked])))
    res = runner.invoke(main, ["split", "--check", str(train), str(test)])
    assert res.exit_code == 1
    assert f"actor {leaked[:4]}" in res.output and "test 1 clips" in res.output
    res = runner.invoke(main, ["split", "--manifest", str(manifest), "--out", str(out), "--test-actors", "60",
                               "--val-actors", "40"])
    assert res.exit_code == 1 and "60 test and 40 validation actors" in res.output
