"""``avemo report``: the paper's Table I with this run's numbers beside it, a bar chart, and the
crowd's majority vote on the same test clips as the human baseline (CREMA-D clips only)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from avemo.corpus import is_demo_corpus
from avemo.fileio import atomic_path, atomic_write
from avemo.metadata import crowd_votes
from avemo.names import EMOTIONS
from avemo.splits import read_splits
from avemo.training.config import VARIANTS
from avemo.training.metrics import classification_report

#: Macro F1 of the paper's Table I (test split of 10 actors).
PAPER_F1 = {"gru": 0.640, "lstm": 0.638, "transformer": 0.625, "maxpool": 0.626}
NAMES = {"gru": "GRU (128)", "lstm": "LSTM (128)", "transformer": "Transformer (64, 4 heads)",
         "maxpool": "Max-pool over time"}


def human_baseline(test_clips: list[str]) -> dict[str, dict]:
    """Crowd majority votes (voice only, face only, audio-visual) scored like a model.
    A tied vote counts as its first emotion in CREMA-D's order."""
    votes = crowd_votes()
    clips = [c for c in test_clips if c in votes]
    out = {}
    if not clips:
        return out
    truth = np.array([EMOTIONS.index(c.split("_")[2]) for c in clips])
    for mode in ("voice", "face", "multimodal"):
        pred = np.array([EMOTIONS.index(votes[c][mode][0]) if votes[c][mode] else -1 for c in clips])
        keep = pred >= 0
        out[mode] = classification_report(truth[keep], pred[keep])
    return out


def _read_metrics(folder: Path | None, variants) -> dict[str, dict]:
    if folder is None:
        return {}
    return {v: json.loads((folder / f"{v}.json").read_text()) for v in variants if (folder / f"{v}.json").is_file()}


def make_report(metrics_dir: str | Path, splits: str | Path, out_dir: str | Path,
                variants=VARIANTS, corpus_root: str | Path | None = None,
                heads_dir: str | Path | None = None, heads_backbone: str = "") -> Path:
    """Write ``out_dir/results.md`` and ``out_dir/macro_scores.png``; return the markdown path.
    ``heads_dir``: metrics of head-only models (on ``heads_backbone``'s frozen backbone), shown
    beside the end-to-end ones."""
    metrics_dir, out_dir = Path(metrics_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = _read_metrics(metrics_dir, variants)
    heads = _read_metrics(Path(heads_dir) if heads_dir else None, variants)
    is_demo = is_demo_corpus(corpus_root)
    lines = ["# Results: audio-visual emotion recognition on CREMA-D", ""]
    if is_demo:
        lines += ["> **Demo corpus**: each emotion is one real clip, re-rendered per pseudo-actor, and every",
                  "> pseudo-actor is the same real actor. Scores well above chance (1/6) show that the pipeline",
                  "> learns end to end (trained with `train.demo_*`); they are not an emotion-recognition result.",
                  ""]
    lines += ["## Table I: sequence models (test split, macro averages)", "",
              "| model | precision | recall | F1 | accuracy | paper F1 | clips |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for v in variants:
        r = results.get(v)
        if r is None:
            lines.append(f"| {NAMES[v]} | - | - | - | - | {PAPER_F1[v]:.3f} | not run |")
            continue
        m = r["macro"]
        lines.append(f"| {NAMES[v]} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
                     f"{r['accuracy']:.3f} | {PAPER_F1[v]:.3f} | {r['n']} |")
    lines.append("")
    if heads:
        lines += ["## End-to-end and head-only training side by side (macro F1)", "",
                  f"Head-only: the variant's head, fusion and dense layers trained on the cached embeddings "
                  f"of the **{heads_backbone or '?'}** model's frozen backbone (an avemo extension; the paper "
                  "trains every variant end to end).", "",
                  "| model | end-to-end F1 | head-only F1 | head-only accuracy | paper F1 |",
                  "| --- | --- | --- | --- | --- |"]
        for v in variants:
            e2e = f"{results[v]['macro']['f1']:.3f}" if v in results else "-"
            h = heads.get(v)
            hf, ha = (f"{h['macro']['f1']:.3f}", f"{h['accuracy']:.3f}") if h else ("-", "-")
            lines.append(f"| {NAMES[v]} | {e2e} | {hf} | {ha} | {PAPER_F1[v]:.3f} |")
        lines.append("")
    if results:
        lines += ["## Per-class F1", "", "| model | " + " | ".join(EMOTIONS) + " |",
                  "| --- |" + " --- |" * len(EMOTIONS)]
        for v, r in results.items():
            lines.append(f"| {v} | " + " | ".join(f"{r['per_class'][e]['f1']:.3f}" for e in EMOTIONS) + " |")
        lines.append("")
    test = read_splits(splits).clips("test")
    human = {} if is_demo else human_baseline(test)
    if human:
        lines += ["## Human baseline: the crowd's majority vote on the same test clips", "",
                  "| presentation | precision | recall | F1 | accuracy | clips |", "| --- | --- | --- | --- | --- | --- |"]
        for mode, r in human.items():
            m = r["macro"]
            lines.append(f"| {mode} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
                         f"{r['accuracy']:.3f} | {r['n']} |")
        lines += ["", "From CREMA-D's `summaryTable.csv`; a tied vote counts as its first emotion.", ""]
    png = out_dir / "macro_scores.png"
    _bar_chart(results, png)
    lines += [f"![macro precision, recall and F1 per model]({png.name})", ""]
    md = out_dir / "results.md"
    atomic_write(md, "\n".join(lines))
    return md


def _bar_chart(results: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(results) or list(PAPER_F1)
    x = np.arange(len(variants))
    fig, ax = plt.subplots(figsize=(7, 3.8), constrained_layout=True)
    for k, metric in enumerate(("precision", "recall", "f1")):
        vals = [results[v]["macro"][metric] if v in results else 0 for v in variants]
        ax.bar(x + (k - 1) * 0.25, vals, 0.25, label=f"macro {metric}")
    ax.scatter(x + 0.25, [PAPER_F1[v] for v in variants], marker="_", s=400, color="black", zorder=3,
               label="paper F1")
    ax.set_xticks(x, variants)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8, ncol=4, loc="upper center")
    ax.set_title("Test split, macro scores per sequence model")
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)


def format_table(md_path: Path) -> str:
    """The Table I part of results.md, for printing at the end of a run."""
    text = md_path.read_text().split("\n")
    start = next(i for i, l in enumerate(text) if l.startswith("## Table I"))
    end = next((i for i in range(start + 1, len(text)) if text[i].startswith("## ")), len(text))
    return "\n".join(text[start:end]).strip()
