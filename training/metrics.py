"""Classification metrics from labels (no scikit-learn needed): per class and averaged."""

from __future__ import annotations

import numpy as np

from pipeline.names import EMOTIONS


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n: int = len(EMOTIONS)) -> np.ndarray:
    """(n, n) int counts; rows are true classes, columns predicted."""
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return m


def classification_report(y_true, y_pred, names=EMOTIONS) -> dict:
    """Per-class precision, recall, F1 and support; macro and weighted averages; accuracy.
    A class never predicted has precision 0 (and F1 0), as scikit-learn's zero_division=0."""
    m = confusion(y_true, y_pred, len(names))
    tp = np.diag(m).astype(float)
    support = m.sum(axis=1)
    predicted = m.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    per_class = {name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                        "support": int(support[i])} for i, name in enumerate(names)}
    present = support > 0
    weights = support / max(support.sum(), 1)
    return {
        "per_class": per_class,
        "macro": {"precision": float(precision[present].mean()) if present.any() else 0.0,
                  "recall": float(recall[present].mean()) if present.any() else 0.0,
                  "f1": float(f1[present].mean()) if present.any() else 0.0},
        "weighted": {"precision": float((precision * weights).sum()), "recall": float((recall * weights).sum()),
                     "f1": float((f1 * weights).sum())},
        "accuracy": float(tp.sum() / max(m.sum(), 1)),
        "n": int(m.sum()),
        "confusion": m.tolist(),
    }
