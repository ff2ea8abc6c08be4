"""``avemo baseline``: the field's classical reference point beside the paper's models, eGeMAPS
functionals (the ``egemaps`` store) and a linear SVM (scikit-learn), on the same train,
validation and test clips, scored like a variant (predictions, metrics, intervals, paired tests).

The features are standardised with the train split's statistics (``normalise: split``) or each
speaker's own over all of that speaker's clips (``speaker``: no labels used; the usual choice on
EMO-DB). The SVM's C is the grid value with the best validation UAR (ties: the smaller C); the
model is then fitted on the training clips (validation clips only choose C, as they only stop
the deep models' training). Class weights are balanced, as UAR weighs every class equally.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avemo.errors import ConfigError, SplitError
from avemo.fileio import atomic_write
from avemo.params import to_dict
from avemo.splits import ALL, read_splits
from avemo.training import stats
from avemo.training.config import BASELINE, NORMALISATIONS, EvalConfig
from avemo.training.data import open_modality, select
from avemo.training.metrics import classification_report

MODALITY = "egemaps"


@dataclass(frozen=True)
class BaselineConfig:
    """The ``baseline`` section: the SVM's C grid, the standardisation, the solver's seed."""

    c_grid: tuple[float, ...] = (0.0001, 0.001, 0.01, 0.1, 1.0)
    normalise: str = "split"
    seed: int = 0
    max_iter: int = 20000

    def validate(self, name: str = "baseline") -> None:
        if not self.c_grid or not all(isinstance(c, (int, float)) and not isinstance(c, bool) and c > 0
                                      for c in self.c_grid):
            raise ConfigError(f"{name}.c_grid must list positive numbers, got {list(self.c_grid)!r}")
        if self.normalise not in NORMALISATIONS:
            raise ConfigError(f"{name}.normalise must be one of {', '.join(NORMALISATIONS)}, got {self.normalise!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError(f"{name}.seed must be an int, got {self.seed!r}")


def standardise(x: np.ndarray, groups: list[str], fit: np.ndarray) -> np.ndarray:
    """``x`` (N, F) standardised per group (a group's mean and standard deviation over its rows
    where ``fit`` is true; a group with no fit rows uses all of its rows). Labels play no part."""
    out = np.empty_like(x, dtype=np.float64)
    groups = np.asarray(groups)
    for g in sorted(set(groups.tolist())):
        rows = groups == g
        ref = x[rows & fit] if (rows & fit).any() else x[rows]
        mean, std = ref.mean(axis=0), ref.std(axis=0)
        out[rows] = (x[rows] - mean) / np.where(std > 0, std, 1.0)
    return out


def run_baseline(store: str | Path, splits: str | Path, metrics_out: str | Path, plots_dir: str | Path,
                 config: BaselineConfig = BaselineConfig(), uncertainty: EvalConfig = EvalConfig()) -> dict:
    """Fit the SVM on the train split's eGeMAPS features (C by validation UAR), predict the test
    split; write ``predictions.csv`` and the metrics JSON (the format of ``avemo evaluate``, with
    ``baseline`` saying how it was made). A corpus without audio: a metrics file saying so."""
    from sklearn.svm import LinearSVC

    record = read_splits(splits)
    if record.media == "video":
        doc = {"skipped": "the corpus has no audio: no eGeMAPS baseline", "model": BASELINE}
        atomic_write(metrics_out, json.dumps(doc, indent=1) + "\n")
        return doc
    for part in ("train", "val", "test"):
        if not record.clips(part):
            raise SplitError(f"{splits} has no {part} clips ({record.method}): the baseline needs a "
                             "speaker-independent split (at least 3 speakers)")
    with open_modality(Path(store) / MODALITY, MODALITY, ": run `avemo extract egemaps` first") as reader:
        parts = {p: select({MODALITY: reader}, record.labelled(p), p) for p in ("train", "val", "test")}
        x = {p: reader.load(d.clip_ids, [MODALITY])[MODALITY].astype(np.float64) for p, d in parts.items()}
        speakers = record.speakers(ALL)
    ids = [c for d in parts.values() for c in d.clip_ids]
    stacked = np.concatenate(list(x.values()))
    if config.normalise == "speaker":  # each speaker's own statistics, over all of its clips
        stacked = standardise(stacked, [speakers[c] for c in ids], np.ones(len(ids), bool))
    else:  # the train split's statistics for every split
        stacked = standardise(stacked, ["all"] * len(ids), np.arange(len(ids)) < len(x["train"]))
    bounds = np.cumsum([0] + [len(v) for v in x.values()])
    x = {p: stacked[bounds[i]:bounds[i + 1]] for i, p in enumerate(x)}

    def fit(c: float):
        return LinearSVC(C=c, class_weight="balanced", dual="auto", max_iter=config.max_iter,
                         random_state=config.seed).fit(x["train"], parts["train"].labels)

    labels = list(record.labels)
    tried = {}
    for c in config.c_grid:
        pred = fit(c).predict(x["val"])
        tried[c] = classification_report(parts["val"].labels, pred, labels)["uar"]
    best = max(sorted(tried), key=lambda c: tried[c])  # sorted: ties go to the smaller C
    model = fit(best)
    test = parts["test"]
    pred = model.predict(x["test"])
    scores = model.decision_function(x["test"])
    report = classification_report(test.labels, pred, labels)
    report.update({"split": "test", "model": BASELINE, "missing": len(test.missing), "labels": labels,
                   "train_corpus": record.corpus, "test_corpus": record.corpus, "unmapped": 0, "unmapped_labels": {},
                   "baseline": {"features": MODALITY, "n_features": int(x["train"].shape[1]),
                                "classifier": "linear SVM (scikit-learn LinearSVC, balanced class weights)",
                                "C": best, "val_uar_by_C": {str(c): u for c, u in tried.items()},
                                **to_dict(config)},
                   "n_train": len(parts["train"].clip_ids), "n_val": len(parts["val"].clip_ids)})
    report.update(stats.uncertainty(test.labels, pred, [speakers[c] for c in test.clip_ids], len(labels),
                                    uncertainty.replicates, uncertainty.seed, uncertainty.level))
    plots = Path(plots_dir)
    plots.mkdir(parents=True, exist_ok=True)
    scores = scores.reshape(len(pred), -1)  # one column for two classes (the second's score)
    names = labels if scores.shape[1] == len(labels) else labels[-1:]
    lines = ["clip_id,true,predicted," + ",".join(f"score_{e}" for e in names)]
    lines += [f"{c},{labels[t]},{labels[p]}," + ",".join(f"{v:.6f}" for v in row)
              for c, t, p, row in zip(test.clip_ids, test.labels, pred, scores)]
    atomic_write(plots / "predictions.csv", "\n".join(lines) + "\n")
    atomic_write(metrics_out, json.dumps(report, indent=1) + "\n")
    return report
