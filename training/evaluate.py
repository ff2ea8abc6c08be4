"""``avemo evaluate``: a trained variant on the test split -> predictions, metrics, confusion."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from avemo.fileio import atomic_path, atomic_write
from avemo.names import EMOTIONS, parse_clip_name
from avemo.splits import read_splits
from avemo.training import backend, stats
from avemo.training.data import load_split, open_stores
from avemo.training.config import EvalConfig
from avemo.training.metrics import classification_report
from avemo.training.models import load_model


def evaluate_variant(model_path: str | Path, store: str | Path, splits: str | Path, metrics_out: str | Path,
                     plots_dir: str | Path, split: str = "test", batch_size: int = 16,
                     uncertainty: EvalConfig = EvalConfig()) -> dict:
    """Write ``predictions.csv`` and ``confusion.csv``/``.json``/``.png`` under ``plots_dir`` and the
    metrics JSON (per class, macro, weighted, accuracy; the actor-bootstrap ``interval`` of macro F1
    and accuracy; each test actor's confusion, which paired tests between variants resample) to
    ``metrics_out``; return the metrics."""
    model = load_model(model_path)
    readers = open_stores(store)
    data = load_split(readers, read_splits(splits).clips(split), split)
    # Eager calls in batches: one pass over the test split does not repay tracing a graph;
    # same probabilities as model.predict up to float rounding. Batches of the training size:
    # memory grows with the batch (the face CNN's first layer alone is ~0.4 GB per 16 clips).
    probs = np.concatenate([backend.to_numpy(model({k: a[i:i + batch_size] for k, a in data.inputs.items()},
                                                   training=False))
                            for i in range(0, len(data.labels), batch_size)])
    pred = probs.argmax(axis=1)
    report = classification_report(data.labels, pred)
    report.update({"split": split, "model": str(model_path), "missing": len(data.missing)})
    report.update(stats.uncertainty(data.labels, pred, [parse_clip_name(c).actor for c in data.clip_ids],
                                    len(EMOTIONS), uncertainty.replicates, uncertainty.seed, uncertainty.level))
    plots = Path(plots_dir)
    plots.mkdir(parents=True, exist_ok=True)
    atomic_write(plots / "predictions.csv", _csv(
        ["clip_id", "true", "predicted", *[f"p_{e}" for e in EMOTIONS]],
        ([c, EMOTIONS[t], EMOTIONS[p], *[f"{x:.6f}" for x in pr]]
         for c, t, p, pr in zip(data.clip_ids, data.labels, pred, probs))))
    # one row per clip: what `dvc plots` draws as a confusion matrix
    atomic_write(plots / "confusion.csv", _csv(["actual", "predicted"],
                                               ([EMOTIONS[t], EMOTIONS[p]] for t, p in zip(data.labels, pred))))
    atomic_write(plots / "confusion.json", json.dumps({"labels": list(EMOTIONS), "matrix": report["confusion"]}) + "\n")
    draw_confusion(np.array(report["confusion"]), plots / "confusion.png", Path(model_path).stem)
    atomic_write(metrics_out, json.dumps(report, indent=1) + "\n")
    for r in readers.values():
        r.close()
    return report


def _csv(header: list[str], rows) -> str:
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return text.getvalue()


def draw_confusion(matrix: np.ndarray, png: Path, title: str) -> None:
    """The confusion matrix as scikit-learn's ``ConfusionMatrixDisplay`` draws it: each row as
    fractions of its true class (so classes of any size compare), the clip count in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.2, 4.4), constrained_layout=True)
    ConfusionMatrixDisplay(rates, display_labels=list(EMOTIONS)).plot(
        ax=ax, cmap="Blues", values_format=".2f", im_kw={"vmin": 0, "vmax": 1}, colorbar=True)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (row: fraction of the true class)")
    ax.set_title(f"{title}: test-split confusion ({int(matrix.sum())} clips)")
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
