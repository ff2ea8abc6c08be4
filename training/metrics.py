"""Classification metrics (scikit-learn's), as the JSON that evaluation writes and the report reads."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from avemo.names import EMOTIONS


def classification_report(y_true, y_pred, names=EMOTIONS) -> dict:
    """Per-class precision, recall, F1 and support; macro and weighted averages; UAR (the macro
    recall); accuracy; the
    confusion matrix (rows true, columns predicted). A class never predicted has precision 0
    (``zero_division=0``); macro averages run over the classes present in ``y_true``."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    labels = list(range(len(names)))
    if y_true.size == 0:
        zeros = {"precision": 0.0, "recall": 0.0, "f1": 0.0}
        return {"per_class": {n: {**zeros, "support": 0} for n in names}, "macro": dict(zeros),
                "weighted": dict(zeros), "uar": 0.0, "accuracy": 0.0, "n": 0,
                "confusion": [[0] * len(names) for _ in names]}
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                                     zero_division=0)
    present = sorted(set(y_true.tolist()))
    macro = precision_recall_fscore_support(y_true, y_pred, labels=present, average="macro", zero_division=0)
    weighted = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="weighted",
                                               zero_division=0)
    return {
        "per_class": {name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                             "support": int(support[i])} for i, name in enumerate(names)},
        "macro": {k: float(v) for k, v in zip(("precision", "recall", "f1"), macro[:3])},
        "weighted": {k: float(v) for k, v in zip(("precision", "recall", "f1"), weighted[:3])},
        # unweighted average recall, speech emotion work's headline score: the macro recall
        "uar": float(macro[1]),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "n": int(y_true.size),
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }
