"""predict's files: one row (CSV) or record (JSON) per input, and per long recording its
timeline as CSV and as a picture of the class probabilities over time."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from avemo.fileio import atomic_path, atomic_write
from avemo.predict.results import FileResult


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.6f}"


def results_csv(results: list[FileResult], labels: tuple[str, ...]) -> str:
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(["input", "status", "error", "duration", "windows", "label", *[f"p_{l}" for l in labels], "flags"])
    for r in results:
        p = r.probabilities
        w.writerow([r.path, "ok" if r.ok else "failed", r.error or "", _fmt(r.duration), len(r.timeline) or "",
                    r.label or "", *[_fmt(p.get(l)) for l in labels], "; ".join(r.flags)])
    return text.getvalue()


def results_json(results: list[FileResult], labels: tuple[str, ...], model: str) -> str:
    def record(r: FileResult) -> dict:
        doc = {"input": r.path, "ok": r.ok, "error": r.error, "duration": r.duration, "label": r.label,
               "probabilities": r.probabilities, "flags": list(r.flags)}
        if r.timeline:
            doc["timeline"] = [{"start": w.start, "end": w.end, "label": w.label, "probabilities": w.probabilities,
                                "face_share": w.face_share, "flags": list(w.flags)} for w in r.timeline]
        return doc
    return json.dumps({"model": model, "labels": list(labels), "inputs": [record(r) for r in results]}, indent=1) + "\n"


def write_results(results: list[FileResult], labels: tuple[str, ...], model: str, out: str | Path) -> Path:
    """``out`` as JSON (``.json``) or CSV (anything else)."""
    out = Path(out)
    body = results_json(results, labels, model) if out.suffix.lower() == ".json" else results_csv(results, labels)
    return atomic_write(out, body)


def timeline_name(path: str, taken: set[str]) -> str:
    """A file stem for an input's timeline, unique among ``taken``."""
    stem, n = Path(path).stem, 1
    name = stem
    while name in taken:
        n += 1
        name = f"{stem}-{n}"
    taken.add(name)
    return name


def write_timeline(result: FileResult, labels: tuple[str, ...], folder: Path, name: str) -> tuple[Path, Path]:
    """``folder/NAME.timeline.csv`` (start, end, label, p_*, face_share, flags per window) and
    ``.png`` (each class' probability over time; windows without a prediction shaded)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    w = csv.writer(text, lineterminator="\n")
    w.writerow(["start", "end", "label", *[f"p_{l}" for l in labels], "face_share", "flags"])
    for win in result.timeline:
        w.writerow([f"{win.start:.3f}", f"{win.end:.3f}", win.label or "",
                    *[_fmt(win.probabilities.get(l)) for l in labels], _fmt(win.face_share), "; ".join(win.flags)])
    table = atomic_write(folder / f"{name}.timeline.csv", text.getvalue())
    png = folder / f"{name}.timeline.png"
    _draw(result, labels, png)
    return table, png


def _draw(result: FileResult, labels: tuple[str, ...], png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mid = [(w.start + w.end) / 2 for w in result.timeline]
    fig, ax = plt.subplots(figsize=(9, 3.6), constrained_layout=True)
    for label in labels:
        ax.plot(mid, [w.probabilities.get(label, float("nan")) for w in result.timeline], marker=".", label=label)
    for w in result.timeline:
        if not w.probabilities:
            ax.axvspan(w.start, w.end, color="0.85", zorder=0)
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s): window centres; grey: no prediction (no face)")
    ax.set_ylabel("probability")
    ax.set_title(f"{Path(result.path).name}: {len(result.timeline)} windows, overall {result.label or '-'}")
    ax.legend(fontsize=8, ncol=len(labels), loc="upper center")
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)
