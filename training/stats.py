"""How sure a test-split score is: actor-clustered bootstrap intervals, and paired actor-level
tests between two variants on the same clips (Holm-corrected over the pairs).

An actor's clips are correlated (one face, one voice, one recording session), so the unit of
resampling is the test actor, not the clip: a replicate draws as many actors as the split has,
with replacement, and scores all of their clips. Every score is computed from confusion matrices
(one per actor), so a replicate costs a sum of matrices. The resampling itself is scipy's
(``scipy.stats.bootstrap`` with the percentile method, ``scipy.stats.permutation_test`` with
paired samples: each actor's predictions swapped between the two variants or not, exhaustively
where that is fewer than the replicates). docs/model.md, "Results with uncertainty".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

#: Bootstrap replicates and permutations by default (the issue's floor: 2,000).
REPLICATES = 2000
LEVEL = 0.95


def actor_confusions(y_true, y_pred, actors, n_classes: int) -> tuple[list[str], np.ndarray]:
    """(sorted actor ids, (A, K, K) confusion counts per actor: rows true, columns predicted)."""
    y_true, y_pred, actors = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64), np.asarray(actors)
    ids, which = np.unique(actors, return_inverse=True)
    conf = np.zeros((len(ids), n_classes, n_classes), np.int64)
    np.add.at(conf, (which, y_true, y_pred), 1)
    return [str(a) for a in ids], conf


def macro_f1(conf: np.ndarray) -> np.ndarray:
    """Macro F1 of confusion matrices (..., K, K), averaged over the classes present in each
    one's truth (as :func:`avemo.training.metrics.classification_report`); 0 where none is."""
    conf = np.asarray(conf, np.float64)
    tp = np.diagonal(conf, axis1=-2, axis2=-1)
    support, predicted = conf.sum(axis=-1), conf.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(support + predicted > 0, 2 * tp / (support + predicted), 0.0)  # = 2PR / (P + R)
    present = support > 0
    return np.where(present.any(axis=-1), (f1 * present).sum(axis=-1) / np.maximum(present.sum(axis=-1), 1), 0.0)


def uar(conf: np.ndarray) -> np.ndarray:
    """Unweighted average recall (the headline score of speech emotion work: the mean of the
    per-class recalls, over the classes present in each one's truth; = scikit-learn's macro
    recall over those classes); 0 where none is."""
    conf = np.asarray(conf, np.float64)
    tp = np.diagonal(conf, axis1=-2, axis2=-1)
    support = conf.sum(axis=-1)
    present = support > 0
    recall = np.where(present, tp / np.maximum(support, 1), 0.0)
    return np.where(present.any(axis=-1), recall.sum(axis=-1) / np.maximum(present.sum(axis=-1), 1), 0.0)


def accuracy(conf: np.ndarray) -> np.ndarray:
    conf = np.asarray(conf, np.float64)
    total = conf.sum(axis=(-2, -1))
    return np.diagonal(conf, axis1=-2, axis2=-1).sum(axis=-1) / np.maximum(total, 1)


SCORES = {"macro_f1": macro_f1, "uar": uar, "accuracy": accuracy}


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def actor_bootstrap(conf: np.ndarray, replicates: int = REPLICATES, seed: int = 0,
                    level: float = LEVEL) -> dict[str, list[float] | None]:
    """Score name -> [low, high], the percentile interval of each score over ``replicates``
    resamples of the actors (``conf``: per-actor confusions, :func:`actor_confusions`); None
    with fewer than two actors (nothing to resample)."""
    if len(conf) < 2:
        return {name: None for name in SCORES}
    out = {}
    for name, score in SCORES.items():
        def statistic(idx, axis=-1, score=score):
            return score(conf[np.asarray(idx, np.int64)].sum(axis=-3))

        res = stats.bootstrap((np.arange(len(conf)),), statistic, n_resamples=replicates, vectorized=True,
                              method="percentile", confidence_level=level, rng=_rng(seed))
        out[name] = [float(res.confidence_interval.low), float(res.confidence_interval.high)]
    return out


def uncertainty(y_true, y_pred, actors, n_classes: int, replicates: int = REPLICATES, seed: int = 0,
                level: float = LEVEL) -> dict:
    """What the metrics JSON of one variant adds: ``interval`` (the actor-bootstrap intervals of
    macro F1, UAR and accuracy, and how they were made) and ``actor_confusion`` (actor -> confusion
    matrix, which paired tests between variants resample)."""
    ids, conf = actor_confusions(y_true, y_pred, actors, n_classes)
    return {"interval": {**actor_bootstrap(conf, replicates, seed, level), "level": level, "replicates": replicates,
                         "seed": seed, "resampled": "test actors", "actors": len(ids)},
            "actor_confusion": {a: m.tolist() for a, m in zip(ids, conf)}}


@dataclass(frozen=True)
class PairedComparison:
    """Variant ``a`` against ``b`` on the same test clips: the difference in ``score`` (macro F1 or
    UAR; a - b), its actor-bootstrap interval and the paired permutation test's two-sided p-value
    (``p_holm``: Holm-corrected over every pair compared together)."""

    a: str
    b: str
    diff: float
    low: float
    high: float
    p: float
    p_holm: float = float("nan")
    score: str = "macro_f1"

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "score": self.score, f"{self.score}_diff": self.diff,
                "interval": [self.low, self.high], "p": self.p, "p_holm": self.p_holm}


def paired_comparison(a: str, conf_a: np.ndarray, b: str, conf_b: np.ndarray, replicates: int = REPLICATES,
                      seed: int = 0, level: float = LEVEL, score: str = "macro_f1") -> PairedComparison:
    """``a`` vs ``b`` in ``score`` (:data:`SCORES`) from their per-actor confusions on the same
    clips (same actor order)."""
    score_of = SCORES[score]
    if conf_a.shape != conf_b.shape:
        raise ValueError("the two variants were not scored on the same test actors")
    n = len(conf_a)
    both = np.concatenate([conf_a, conf_b])  # actor i of a at i, of b at n + i

    def diff(x, y, axis=-1):
        def value(idx):
            return score_of(both[np.asarray(idx, np.int64)].sum(axis=-3))

        return value(x) - value(y)

    observed = float(diff(np.arange(n), np.arange(n, 2 * n)))
    if n < 2:
        return PairedComparison(a, b, observed, float("nan"), float("nan"), float("nan"), score=score)
    interval = stats.bootstrap((np.arange(n), np.arange(n, 2 * n)), diff, paired=True, n_resamples=replicates,
                               vectorized=True, method="percentile", confidence_level=level,
                               rng=_rng(seed)).confidence_interval
    test = stats.permutation_test((np.arange(n), np.arange(n, 2 * n)), diff, permutation_type="samples",
                                  n_resamples=replicates, vectorized=True, rng=_rng(seed))
    return PairedComparison(a, b, observed, float(interval.low), float(interval.high), float(test.pvalue), score=score)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjustment of ``pvalues`` (family-wise error), in their order."""
    p = np.asarray(pvalues, np.float64)
    order = np.argsort(p, kind="stable")
    m = len(p)
    adjusted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adjusted
    return out.tolist()


def compare_all(confusions: dict[str, np.ndarray], replicates: int = REPLICATES, seed: int = 0,
                level: float = LEVEL, score: str = "macro_f1") -> list[PairedComparison]:
    """Every pair of variants (in the given order) in ``score``, Holm-corrected together."""
    names = list(confusions)
    pairs = [paired_comparison(a, confusions[a], b, confusions[b], replicates, seed, level, score)
             for i, a in enumerate(names) for b in names[i + 1:]]
    adjusted = holm([c.p for c in pairs])
    return [PairedComparison(c.a, c.b, c.diff, c.low, c.high, c.p, q, score) for c, q in zip(pairs, adjusted)]
