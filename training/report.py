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
from avemo.training.config import BASELINE, VARIANTS, EvalConfig
from avemo.training.metrics import classification_report
from avemo.training.report_cv import pair_rows, protocol_lines
from avemo.training.stats import compare_all

CREMA_D = "crema-d"
#: Macro F1 of the paper's Table I (CREMA-D, test split of 10 actors).
PAPER_F1 = {"gru": 0.640, "lstm": 0.638, "transformer": 0.625, "maxpool": 0.626}
NAMES = {"gru": "GRU (128)", "lstm": "LSTM (128)", "transformer": "Transformer (64, 4 heads)",
         "maxpool": "Max-pool over time", BASELINE: "eGeMAPS + linear SVM (classical baseline)"}


def human_baseline(test_clips: dict[str, str]) -> dict[str, dict]:
    """Crowd majority votes (voice only, face only, audio-visual) on CREMA-D test clips (clip id ->
    label name, as the split records it) scored like a model. A tied vote counts as its first
    emotion in CREMA-D's order."""
    votes = crowd_votes()
    clips = [c for c in test_clips if c in votes and test_clips[c] in EMOTIONS]
    out = {}
    if not clips:
        return out
    truth = np.array([EMOTIONS.index(test_clips[c]) for c in clips])
    for mode in ("voice", "face", "multimodal"):
        pred = np.array([EMOTIONS.index(votes[c][mode][0]) if votes[c][mode] else -1 for c in clips])
        keep = pred >= 0
        out[mode] = classification_report(truth[keep], pred[keep])
    return out


def _read_metrics(folder: Path | None, variants) -> dict[str, dict]:
    if folder is None:
        return {}
    return {v: json.loads((folder / f"{v}.json").read_text()) for v in variants if (folder / f"{v}.json").is_file()}


def _with_interval(r: dict, score: str, value: float) -> str:
    """``0.631 [0.584, 0.676]``: the score and its actor-bootstrap interval (metrics written
    before intervals existed: the score alone)."""
    ci = r.get("interval", {}).get(score)
    if not ci:
        return f"{value:.3f}"
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def _same_test_clips(results: dict[str, dict]) -> bool:
    """Whether every variant's per-actor confusions count the same clips of each actor and class."""
    supports = [{a: np.asarray(m).sum(axis=1).tolist() for a, m in r["actor_confusion"].items()}
                for r in results.values()]
    return all(s == supports[0] for s in supports[1:])


def comparison_lines(results: dict[str, dict], uncertainty: EvalConfig, on_paper: bool = True,
                     title: str = "## Paired comparisons (same test clips, macro F1)") -> list[str]:
    """The paired comparisons section: every pair of variants' macro F1 difference with its
    actor-bootstrap interval and Holm-corrected paired permutation p-value, then in words which
    differences the data support and whether the paper's ranking is among them."""
    scored = {v: r for v, r in results.items() if r.get("actor_confusion")}
    if len(scored) < 2:
        return []
    alpha = 1 - uncertainty.level
    head = [title, ""]
    if not _same_test_clips(scored):
        return head + ["Not computed: the variants were not evaluated on the same test clips.", ""]
    actors = sorted(next(iter(scored.values()))["actor_confusion"])
    if len(actors) < 2:
        return head + ["Not computed: the test split has one actor (actors are what the tests resample).", ""]
    confs = {v: np.array([r["actor_confusion"][a] for a in actors]) for v, r in scored.items()}
    pairs = compare_all(confs, uncertainty.replicates, uncertainty.seed, uncertainty.level)
    by_uar = compare_all(confs, uncertainty.replicates, uncertainty.seed, uncertainty.level, score="uar")
    lines = head + [f"Difference A - B with its {uncertainty.level:.0%} interval (test actors resampled, "
                    f"{uncertainty.replicates} replicates) and a paired permutation test at the actor level "
                    f"(each actor's predictions swapped between the two or not), Holm-corrected over the "
                    f"{len(pairs)} pairs (per score); supported: Holm p < {alpha:.2g}. Macro F1, then UAR.", "",
                    *pair_rows(pairs, alpha), "", *pair_rows(by_uar, alpha)]
    supported = [c for c in pairs if c.p_holm < alpha]
    lines += ["", ("Supported differences: " + "; ".join(
        f"{c.a if c.diff > 0 else c.b} over {c.b if c.diff > 0 else c.a} ({abs(c.diff):.3f})" for c in supported)
        + ".") if supported else f"No difference between the variants is supported at {alpha:.0%} "
        f"(Holm): on these {len(actors)} test actors their macro F1s are indistinguishable."]
    by_pair = {frozenset((c.a, c.b)): c for c in pairs}
    paper = sorted((v for v in confs if v in PAPER_F1 and on_paper), key=lambda v: -PAPER_F1[v])
    claims = [(hi, lo) for i, hi in enumerate(paper) for lo in paper[i + 1:]]
    if claims:
        agree = [(hi, lo) for hi, lo in claims if _diff(by_pair[frozenset((hi, lo))], hi) > 0]
        backed = [(hi, lo) for hi, lo in agree if by_pair[frozenset((hi, lo))].p_holm < alpha]
        ours = " > ".join(sorted(confs, key=lambda v: -scored[v]["macro"]["f1"]))
        lines += ["", f"The paper's ranking ({' > '.join(paper)}, F1 "
                  f"{', '.join(f'{PAPER_F1[v]:.3f}' for v in paper)}) makes {len(claims)} pairwise claims: "
                  f"this run orders the variants {ours}; claims pointing the same way here: {len(agree)}, "
                  f"of which supported by the paired tests: {len(backed)}."
                  + (" The paper's own differences (0.001-0.015) are far smaller than the intervals above: its "
                     "ranking cannot be read from this many test actors." if len(backed) < len(claims) else "")]
    return lines + [""]


def _diff(c, first: str) -> float:
    """The F1 difference ``first`` minus the other variant of the pair ``c``."""
    return c.diff if c.a == first else -c.diff


def make_report(metrics_dir: str | Path, splits: str | Path, out_dir: str | Path,
                variants=VARIANTS, corpus_root: str | Path | None = None,
                heads_dir: str | Path | None = None, heads_backbone: str = "",
                uncertainty: EvalConfig = EvalConfig(), cv_summary: str | Path | None = None) -> Path:
    """Write ``out_dir/results.md`` and ``out_dir/macro_scores.png``; return the markdown path.
    ``heads_dir``: metrics of head-only models (on ``heads_backbone``'s frozen backbone), shown
    beside the end-to-end ones. Scores carry their actor-bootstrap intervals, and every pair of
    variants is compared by a paired actor-level test (:func:`comparison_lines`). ``cv_summary``:
    ``avemo cv``'s summary JSON; when the protocol ran, its section follows Table I."""
    metrics_dir, out_dir = Path(metrics_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = _read_metrics(metrics_dir, variants)
    baseline = {k: r for k, r in _read_metrics(metrics_dir, [BASELINE]).items() if "skipped" not in r}
    heads = _read_metrics(Path(heads_dir) if heads_dir else None, variants)
    is_demo = is_demo_corpus(corpus_root)
    record = read_splits(splits)
    first = next(iter(results.values()), {})
    trained_on = first.get("train_corpus") or record.corpus or "crema-d"
    tested_on = first.get("test_corpus") or record.corpus or "crema-d"
    on_paper = tested_on == CREMA_D == trained_on  # the paper's figures are CREMA-D's
    corpora = tested_on if trained_on == tested_on else f"{tested_on} (models trained on {trained_on}: cross-corpus)"
    lines = [f"# Results: audio-visual emotion recognition on {corpora}", ""]
    if is_demo:
        lines += ["> **Demo corpus**: each emotion is one real clip, re-rendered per pseudo-actor, and every",
                  "> pseudo-actor is the same real actor. Scores well above chance (1/6) show that the pipeline",
                  "> learns end to end (trained with `train.demo_*`); they are not an emotion-recognition result.",
                  ""]
    split_name = first.get("split", "test")
    lines += [f"## Table I: sequence models (trained on {trained_on}, tested on {tested_on}: {split_name} split, "
              "macro averages)", "",
              "| model | precision | UAR (macro recall) | F1 | accuracy | paper F1 | clips |",
              "| --- | --- | --- | --- | --- | --- | --- |"]
    for v in (*variants, *baseline):
        r = results.get(v) or baseline.get(v)
        paper = f"{PAPER_F1[v]:.3f}" if on_paper and v in PAPER_F1 else "-" if v in baseline else "- (CREMA-D only)"
        if r is None:
            lines.append(f"| {NAMES.get(v, v)} | - | - | - | - | {paper} | not run |")
            continue
        m = r["macro"]
        lines.append(f"| {NAMES.get(v, v)} | {m['precision']:.3f} | {_with_interval(r, 'uar', m['recall'])} | "
                     f"{_with_interval(r, 'macro_f1', m['f1'])} | {_with_interval(r, 'accuracy', r['accuracy'])} | "
                     f"{paper} | {r['n']} |")
    left = {v: r.get("unmapped", 0) for v, r in results.items() if r.get("unmapped")}
    if left:
        r = results[next(iter(left))]
        lines += ["", f"Left out: {r['unmapped']} clip(s) whose label the models lack ("
                  + ", ".join(f"{k} {n}" for k, n in r.get("unmapped_labels", {}).items()) + ")."]
    ci = next((r["interval"] for r in results.values() if r.get("interval", {}).get("macro_f1")), None)
    if ci:
        lines += ["", f"In brackets: {ci['level']:.0%} intervals from {ci['replicates']} bootstrap resamples of "
                  f"the {ci['actors']} test actors (an actor's clips go together; seed {ci['seed']}). Measured "
                  "coverage on simulated splits of 10-20 actors: 91-92% (docs/model.md)."]
    lines.append("")
    ran = {(r.get("schedule") or {}).get("name") for r in results.values()} - {None}
    if ran:
        sch = next(r["schedule"] for r in results.values() if r.get("schedule"))
        lines += ["", "Schedule: " + ("the paper's (Adam 1e-4, batch 16, 15 epochs, early stopping)" if ran == {"paper"}
                  else f"{', '.join(sorted(ran))} ({sch['why']}: up to {sch['epochs']} epochs at lr {sch['lr']:g}, "
                  f"batch {sch['batch_size']}, patience {sch['patience']}, best weights restored)")
                  + (". MFCCs standardised per speaker (train.normalise: speaker)."
                     if any(r.get("normalise") == "speaker" for r in results.values()) else ".")]
    if baseline:
        b = baseline[BASELINE]["baseline"]
        lines += ["", f"Classical baseline: openSMILE's eGeMAPS v02 functionals ({b['n_features']} per clip, features "
                  f"standardised by {'speaker' if b['normalise'] == 'speaker' else 'the train split'}) and a linear SVM "
                  f"(C {b['C']:g}, chosen by validation UAR), on the same clips.", ""]
    lines += comparison_lines({**{v: results[v] for v in variants if v in results}, **baseline}, uncertainty,
                              on_paper)
    summary = json.loads(Path(cv_summary).read_text()) if cv_summary and Path(cv_summary).is_file() else {}
    lines += protocol_lines(summary, uncertainty,
                            lambda rows, title: comparison_lines(rows, uncertainty, on_paper, title))
    if heads:
        lines += ["## End-to-end and head-only training side by side (macro F1)", "",
                  f"Head-only: the variant's head, fusion and dense layers trained on the cached embeddings "
                  f"of the **{heads_backbone or '?'}** model's frozen backbone (an avemo extension; the paper "
                  "trains every variant end to end). Single split: head-only training runs on the main "
                  "pipeline's split only, never per fold or seed.", "",
                  "| model | end-to-end F1 | head-only F1 | head-only accuracy | paper F1 |",
                  "| --- | --- | --- | --- | --- |"]
        for v in variants:
            e2e = f"{results[v]['macro']['f1']:.3f}" if v in results else "-"
            h = heads.get(v)
            hf, ha = (f"{h['macro']['f1']:.3f}", f"{h['accuracy']:.3f}") if h else ("-", "-")
            lines.append(f"| {NAMES[v]} | {e2e} | {hf} | {ha} | {PAPER_F1[v]:.3f} |")
        lines.append("")
    if results:
        names = first.get("labels") or list(EMOTIONS)
        lines += ["## Per-class F1", "", "| model | " + " | ".join(names) + " |",
                  "| --- |" + " --- |" * len(names)]
        for v, r in results.items():
            lines.append(f"| {v} | " + " | ".join(f"{r['per_class'][e]['f1']:.3f}" for e in names) + " |")
        lines.append("")
    test = {c: record.labels[y] for c, y in record.labelled("test").items()}
    human = {} if is_demo or tested_on != CREMA_D else human_baseline(test)
    if human:
        lines += ["## Human baseline: the crowd's majority vote on the same test clips", "",
                  "| presentation | precision | recall | F1 | accuracy | clips |", "| --- | --- | --- | --- | --- | --- |"]
        for mode, r in human.items():
            m = r["macro"]
            lines.append(f"| {mode} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
                         f"{r['accuracy']:.3f} | {r['n']} |")
        lines += ["", "From CREMA-D's `summaryTable.csv`; a tied vote counts as its first emotion.", ""]
    png = out_dir / "macro_scores.png"
    _bar_chart(results, png, on_paper)
    lines += [f"![macro precision, recall and F1 per model]({png.name})", ""]
    md = out_dir / "results.md"
    atomic_write(md, "\n".join(lines))
    return md


def _bar_chart(results: dict, png: Path, on_paper: bool = True) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(results) or list(PAPER_F1)
    x = np.arange(len(variants))
    fig, ax = plt.subplots(figsize=(7, 3.8), constrained_layout=True)
    for k, metric in enumerate(("precision", "recall", "f1")):
        vals = [results[v]["macro"][metric] if v in results else 0 for v in variants]
        err = None
        if metric == "f1":  # the actor-bootstrap interval, where the metrics have one
            ci = [results.get(v, {}).get("interval", {}).get("macro_f1") or [val, val]
                  for v, val in zip(variants, vals)]
            err = np.nan_to_num(np.maximum([[val - lo for (lo, _), val in zip(ci, vals)],
                                            [hi - val for (_, hi), val in zip(ci, vals)]], 0))
        ax.bar(x + (k - 1) * 0.25, vals, 0.25, label=f"macro {metric}" + (" and interval" if err is not None else ""),
               yerr=err, capsize=3 if err is not None else 0)
    if on_paper:
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
