"""``avemo evaluate``: a trained variant on a split of a store (its own corpus' test split, or
another corpus') -> predictions, metrics, confusion."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from pathlib import Path

import numpy as np

from avemo.fileio import atomic_path, atomic_write
from avemo.errors import SplitError, StoreError
from avemo.splits import ALL, read_splits
from avemo.training import backend, stats
from avemo.training.data import ClipSource, inputs_of, load_split, open_stores, speaker_norm
from avemo.training.config import EvalConfig
from avemo.training.metrics import classification_report
from avemo.training.models import load_model


def model_labels(model_path: str | Path, doc: dict | None = None) -> tuple[list[str], str]:
    """The label set (class index = position) and training corpus recorded in a model's sidecar
    (``V.keras`` -> ``V.json``, or ``doc``: that sidecar already read); StoreError saying how to
    retrain a model that lacks them."""
    sidecar = Path(model_path).with_suffix(".json")
    doc = _sidecar(model_path) if doc is None else doc
    if not doc.get("labels"):
        raise StoreError(f"{model_path}: its sidecar {sidecar} does not record the label set it was trained "
                         "on (a model made before avemo recorded it, or a sidecar gone): retrain it with `avemo train` "
                         "(or `dvc repro`)")
    return [str(x) for x in doc["labels"]], str(doc.get("corpus", ""))


def _sidecar(model_path: str | Path) -> dict:
    try:
        return json.loads(Path(model_path).with_suffix(".json").read_text())
    except (OSError, ValueError):
        return {}


def model_normalisation(model_path: str | Path, doc: dict | None = None) -> str:
    """How the model's MFCC input is standardised (its sidecar's ``normalise``: split or speaker)."""
    return str((_sidecar(model_path) if doc is None else doc).get("normalise", "split"))


def map_labels(clips: dict[str, int], names: tuple[str, ...], model: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """The split's clips put in the model's label space by label name: (clip -> model class index,
    label name -> clips left out because the model has no such class)."""
    mapped = {c: model.index(names[y]) for c, y in clips.items() if names[y] in model}
    left = Counter(names[y] for c, y in clips.items() if names[y] not in model)
    return mapped, dict(sorted(left.items()))


def evaluate_variant(model_path: str | Path, store: str | Path, splits: str | Path, metrics_out: str | Path,
                     plots_dir: str | Path, split: str = "test", batch_size: int = 16,
                     uncertainty: EvalConfig = EvalConfig()) -> dict:
    """Write ``predictions.csv`` and ``confusion.csv``/``.json``/``.png`` under ``plots_dir`` and the
    metrics JSON (per class, macro, weighted, accuracy; the actor-bootstrap ``interval`` of macro F1
    and accuracy; each test actor's confusion, which paired tests between variants resample; the
    label set and the training and test corpus) to ``metrics_out``; return the metrics.

    The store may be another corpus' (cross-corpus evaluation; ``split='all'``: every clip of the
    split file): its clips are put in the model's label space by label name, and clips whose
    label the model lacks are left out and counted (``unmapped``)."""
    card = _sidecar(model_path)  # read once: labels, normalisation, schedule
    labels, train_corpus = model_labels(model_path, card)
    record = read_splits(splits)
    if split != ALL and split not in record.parts:
        raise SplitError(f"split file {splits} has no {split!r} split (it has {', '.join(record.parts)}; "
                         f"or --split {ALL})")
    clips, unmapped = map_labels(record.labelled(split), record.labels, labels)
    if not clips:
        raise SplitError(f"no clip of the {split!r} split of {splits} has a label of the model's label set "
                         f"({', '.join(labels)}); its labels are {', '.join(record.labels)}: map them with "
                         "corpus.label_map / corpus.labels when making that corpus' manifest")
    model = load_model(model_path)
    inputs = inputs_of(model)
    readers = open_stores(store, sorted({s for s, _ in inputs.values()}))  # a one-modality model: its own store
    data = load_split(readers, clips, split, inputs)
    normalise = model_normalisation(model_path, card)
    if normalise == "speaker" and "mfcc" in data.inputs:
        # each (test) speaker standardised with its own statistics, as in training (no labels)
        norm = speaker_norm(readers["mfcc"], record.speakers(ALL))
        data.inputs = ClipSource(data, {k: ("", k) for k in data.inputs}, None, norm).take(np.arange(len(data.clip_ids)))
    # Eager calls in batches: one pass over the test split does not repay tracing a graph;
    # same probabilities as model.predict up to float rounding. Batches of the training size:
    # memory grows with the batch (the face CNN's first layer alone is ~0.4 GB per 16 clips).
    probs = np.concatenate([backend.to_numpy(model({k: a[i:i + batch_size] for k, a in data.inputs.items()},
                                                   training=False))
                            for i in range(0, len(data.labels), batch_size)])
    pred = probs.argmax(axis=1)
    report = classification_report(data.labels, pred, labels)
    report.update({"split": split, "model": str(model_path), "missing": len(data.missing), "labels": labels,
                   "train_corpus": train_corpus, "test_corpus": record.corpus,
                   "unmapped": sum(unmapped.values()), "unmapped_labels": unmapped,
                   # how the model was trained (its sidecar's record), for the report
                   "schedule": card.get("schedule"), "normalise": normalise})
    speakers = record.speakers(split)
    report.update(stats.uncertainty(data.labels, pred, [speakers[c] for c in data.clip_ids],
                                    len(labels), uncertainty.replicates, uncertainty.seed, uncertainty.level))
    plots = Path(plots_dir)
    plots.mkdir(parents=True, exist_ok=True)
    atomic_write(plots / "predictions.csv", _csv(
        ["clip_id", "true", "predicted", *[f"p_{e}" for e in labels]],
        ([c, labels[t], labels[p], *[f"{x:.6f}" for x in pr]]
         for c, t, p, pr in zip(data.clip_ids, data.labels, pred, probs))))
    # one row per clip: what `dvc plots` draws as a confusion matrix
    atomic_write(plots / "confusion.csv", _csv(["actual", "predicted"],
                                               ([labels[t], labels[p]] for t, p in zip(data.labels, pred))))
    atomic_write(plots / "confusion.json", json.dumps({"labels": labels, "matrix": report["confusion"]}) + "\n")
    draw_confusion(np.array(report["confusion"]), plots / "confusion.png", Path(model_path).stem, labels)
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


def draw_confusion(matrix: np.ndarray, png: Path, title: str, labels: list[str]) -> None:
    """The confusion matrix as scikit-learn's ``ConfusionMatrixDisplay`` draws it: each row as
    fractions of its true class (so classes of any size compare), the clip count in the title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    rates = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.2, 4.4), constrained_layout=True)
    ConfusionMatrixDisplay(rates, display_labels=list(labels)).plot(
        ax=ax, cmap="Blues", values_format=".2f", im_kw={"vmin": 0, "vmax": 1}, colorbar=True)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true (row: fraction of the true class)")
    ax.set_title(f"{title}: confusion ({int(matrix.sum())} clips)")
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
