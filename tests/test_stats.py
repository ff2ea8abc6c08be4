"""Actor-level uncertainty (avemo.training.stats): scores from confusions equal scikit-learn's,
the actor bootstrap's interval covers a known accuracy about 95% of the time (where a clip-level
bootstrap would not), and the paired test tells alike variants from a clearly better one."""

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from avemo.training.metrics import classification_report
from avemo.training.stats import (actor_bootstrap, actor_confusions, compare_all, holm, macro_f1,
                                  paired_comparison)
from avemo.training.stats import accuracy as accuracy_of

K = 6


def _simulate(rng, actors=20, clips=30, mean=0.6, spread=10.0):
    """Predictions of a model whose accuracy on actor a is p_a ~ Beta (mean ``mean``): correct
    with probability p_a, else one of the other classes at random."""
    p = rng.beta(mean * spread, (1 - mean) * spread, actors)
    who = np.repeat(np.arange(actors), clips)
    y = rng.integers(0, K, who.size)
    return y, _predict(rng, y, p[who]), who


def _predict(rng, y, p_right):
    right = rng.random(y.size) < p_right
    return np.where(right, y, (y + rng.integers(1, K, y.size)) % K)


def test_scores_from_confusions_are_scikit_learns(rng):
    y, pred, who = _simulate(rng)
    pred[:40] = 5  # a class predicted more than it is true
    y[y == 2] = 3  # a class never true: not in the macro average
    ids, conf = actor_confusions(y, pred, who, K)
    assert len(ids) == 20 and conf.sum() == y.size
    report = classification_report(y, pred)
    assert macro_f1(conf.sum(0)) == pytest.approx(report["macro"]["f1"])
    assert accuracy_of(conf.sum(0)) == pytest.approx(accuracy_score(y, pred))


def test_the_actor_bootstrap_covers_the_true_accuracy_about_95_percent_of_the_time():
    """150 simulated test splits of 20 actors whose accuracies vary around 0.6: the 95% interval
    must hold 0.6 in 88-99% of them. A clip-level bootstrap of the same data (each clip its own
    'actor') ignores that an actor's clips go together and covers far less often."""
    rng = np.random.default_rng(0)
    hits, naive = 0, 0
    reps = 150
    for i in range(reps):
        y, pred, who = _simulate(rng)
        ci = actor_bootstrap(actor_confusions(y, pred, who, K)[1], replicates=400, seed=i)["accuracy"]
        hits += ci[0] <= 0.6 <= ci[1]
        ci = actor_bootstrap(actor_confusions(y, pred, np.arange(y.size), K)[1], replicates=400, seed=i)["accuracy"]
        naive += ci[0] <= 0.6 <= ci[1]
    assert 0.88 <= hits / reps <= 0.99, hits / reps
    assert naive / reps < hits / reps - 0.1, (naive / reps, hits / reps)


def test_the_interval_is_around_the_observed_score_and_seeded(rng):
    y, pred, who = _simulate(rng)
    conf = actor_confusions(y, pred, who, K)[1]
    ci = actor_bootstrap(conf, seed=3)
    for name, observed in (("macro_f1", macro_f1(conf.sum(0))), ("accuracy", accuracy_of(conf.sum(0)))):
        assert ci[name][0] < observed < ci[name][1] and ci[name][1] - ci[name][0] < 0.3
    assert actor_bootstrap(conf, seed=3) == ci


def test_the_paired_test_is_not_fooled_by_alike_variants_and_finds_a_better_one():
    """Two variants equally good on every actor (predictions drawn independently from the same
    per-actor accuracies): p < 0.05 in about 5% of 80 simulated splits, not more. A variant that
    fixes half of the other's errors: p < 0.01 and an interval above 0."""
    rng = np.random.default_rng(1)
    rejected = 0
    for i in range(80):
        p = rng.beta(5.5, 4.5, 20)
        who = np.repeat(np.arange(20), 30)
        y = rng.integers(0, K, who.size)
        a, b = _predict(rng, y, p[who]), _predict(rng, y, p[who])
        c = paired_comparison("a", actor_confusions(y, a, who, K)[1], "b", actor_confusions(y, b, who, K)[1],
                              replicates=500, seed=i)
        rejected += c.p < 0.05
    assert rejected / 80 <= 0.15, rejected
    y, pred, who = _simulate(rng, mean=0.55)
    better = np.where(rng.random(y.size) < 0.5, y, pred)  # half of the errors fixed
    alike = _predict(rng, y, (pred == y).mean())
    confs = {name: actor_confusions(y, p, who, K)[1] for name, p in
             (("base", pred), ("alike", alike), ("better", better))}
    win = paired_comparison("better", confs["better"], "base", confs["base"])
    assert win.p < 0.01 and 0 < win.low < win.diff < win.high
    assert win.diff == pytest.approx(macro_f1(confs["better"].sum(0)) - macro_f1(confs["base"].sum(0)))
    pairs = compare_all(confs)
    assert [(c.a, c.b) for c in pairs] == [("base", "alike"), ("base", "better"), ("alike", "better")]
    assert all(c.p_holm >= c.p for c in pairs) and pairs[1].p_holm < 0.05


def test_holm_adjusts_step_down_and_keeps_the_order():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.001]) == pytest.approx([0.5, 0.002])


def test_the_report_gives_intervals_and_says_which_differences_are_supported(tmp_path):
    """Table I with `F1 [low, high]`, error bars, and the paired comparisons in words: a variant
    that fixes most errors is supported as better, two variants alike are not told apart."""
    import json

    from avemo.metadata import clip_names
    from avemo.training.report import make_report
    from avemo.training.stats import uncertainty
    from tests.stores import crema_d_split_doc

    test_clips = [c for c in clip_names() if c[:4] in {str(a) for a in range(1001, 1011)}]
    (tmp_path / "splits.json").write_text(json.dumps(crema_d_split_doc(test_clips)))
    emos = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
    y = np.array([emos.index(c.split("_")[2]) for c in test_clips])
    who = [c[:4] for c in test_clips]
    rng = np.random.default_rng(7)
    p = dict(zip(sorted(set(who)), rng.beta(5, 5, 10)))
    base = _predict(rng, y, np.array([p[a] for a in who]))
    preds = {"gru": base, "lstm": _predict(rng, y, np.array([p[a] for a in who])),
             "transformer": _predict(rng, y, np.array([p[a] for a in who])),
             "maxpool": np.where(rng.random(y.size) < 0.8, y, base)}
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    docs = {}
    for v, pred in preds.items():
        docs[v] = {**classification_report(y, pred), **uncertainty(y, pred, who, K, replicates=500)}
        (metrics / f"{v}.json").write_text(json.dumps(docs[v]))
    text = make_report(metrics, tmp_path / "splits.json", tmp_path / "reports").read_text()
    gru = next(l for l in text.splitlines() if l.startswith("| GRU (128) |"))
    lo, hi = docs["gru"]["interval"]["macro_f1"]
    assert f"{docs['gru']['macro']['f1']:.3f} [{lo:.3f}, {hi:.3f}]" in gru
    assert "bootstrap resamples of the 10 test actors" in text
    rows = {tuple(c.strip() for c in l.strip("|").split("|")[:2]): l for l in text.splitlines()
            if l.startswith("| gru |") or l.startswith("| lstm |") or l.startswith("| transformer |")}
    assert "maxpool better" in rows[("gru", "maxpool")] and "could be chance" in rows[("gru", "lstm")]
    assert "Supported differences: maxpool over gru" in text
    assert "The paper's ranking (gru > lstm > maxpool > transformer" in text
    assert (tmp_path / "reports" / "macro_scores.png").stat().st_size > 10_000


def test_one_test_actor_gives_no_interval_and_no_comparison_but_a_report(tmp_path):
    """Nothing to resample with one actor: the metrics say so with null (valid JSON for DVC),
    and the report shows the plain scores and says why there are no paired tests."""
    import json

    from avemo.training.report import comparison_lines
    from avemo.training.config import EvalConfig
    from avemo.training.stats import uncertainty

    y = np.arange(12) % K
    doc = uncertainty(y, y, ["1001"] * 12, K)
    assert doc["interval"]["macro_f1"] is None and doc["interval"]["actors"] == 1
    assert "NaN" not in json.dumps(doc)
    lines = comparison_lines({"gru": {**classification_report(y, y), **doc},
                              "lstm": {**classification_report(y, y), **doc}}, EvalConfig())
    assert any("one actor" in line for line in lines)
