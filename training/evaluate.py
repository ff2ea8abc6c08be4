"""``avemo evaluate``: a trained variant on the test split -> predictions, metrics, confusion."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from pipeline.names import EMOTIONS
from pipeline.split import read_split
from training.data import load_split, open_stores
from training.metrics import classification_report


def evaluate_variant(model_path: str | Path, store: str | Path, splits: str | Path, metrics_out: str | Path,
                     plots_dir: str | Path, split: str = "test", batch_size: int = 64) -> dict:
    """Write ``predictions.csv`` and ``confusion.csv``/``.json``/``.png`` under ``plots_dir`` and the
    metrics JSON (per class, macro, weighted, accuracy) to ``metrics_out``; return the metrics."""
    from training.models import load_model

    model = load_model(model_path)
    readers = open_stores(store)
    data = load_split(readers, read_split(splits).get(split, []), split)
    # Eager calls in batches: one pass over the test split does not repay tracing a graph
    # (~5 s per variant on CPU); same probabilities as model.predict up to float rounding.
    probs = np.concatenate([np.asarray(model({"faces": data.faces[i:i + batch_size],
                                              "mfcc": data.mfcc[i:i + batch_size]}, training=False))
                            for i in range(0, len(data.labels), batch_size)])
    pred = probs.argmax(axis=1)
    report = classification_report(data.labels, pred)
    report.update({"split": split, "model": str(model_path), "missing": len(data.missing)})
    plots = Path(plots_dir)
    plots.mkdir(parents=True, exist_ok=True)
    with open(plots / "predictions.csv", "w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["clip_id", "true", "predicted", *[f"p_{e}" for e in EMOTIONS]])
        for c, t, p, pr in zip(data.clip_ids, data.labels, pred, probs):
            w.writerow([c, EMOTIONS[t], EMOTIONS[p], *[f"{x:.6f}" for x in pr]])
    with open(plots / "confusion.csv", "w", newline="") as fh:  # one row per clip: dvc plots' confusion
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["actual", "predicted"])
        for t, p in zip(data.labels, pred):
            w.writerow([EMOTIONS[t], EMOTIONS[p]])
    (plots / "confusion.json").write_text(json.dumps({"labels": list(EMOTIONS), "matrix": report["confusion"]}) + "\n")
    draw_confusion(np.array(report["confusion"]), plots / "confusion.png", Path(model_path).stem)
    metrics_out = Path(metrics_out)
    metrics_out.parent.mkdir(parents=True, exist_ok=True)
    metrics_out.write_text(json.dumps(report, indent=1) + "\n")
    return report


def draw_confusion(matrix: np.ndarray, png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.2, 4.4), constrained_layout=True)
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(EMOTIONS)), EMOTIONS)
    ax.set_yticks(range(len(EMOTIONS)), EMOTIONS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(EMOTIONS)):
        for j in range(len(EMOTIONS)):
            ax.text(j, i, f"{matrix[i, j]}", ha="center", va="center", fontsize=8,
                    color="white" if rates[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, label="fraction of the true class")
    ax.set_title(f"{title}: test-split confusion")
    fig.savefig(png, dpi=90)
    plt.close(fig)
