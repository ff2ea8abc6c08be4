"""The report's protocol section (``avemo cv``'s summary): scores over K actor-disjoint folds and
over seeds, all folds' test predictions pooled with actor-bootstrap intervals, a per-fold
table, paired tests between the variants on the pooled predictions, and each variant against
its audio-only and face-only ablations."""

from __future__ import annotations

import numpy as np

from avemo.training.config import EvalConfig
from avemo.training.stats import PairedComparison, holm, paired_comparison


def pair_rows(pairs: list[PairedComparison], alpha: float, names: tuple[str, str] = ("A", "B")) -> list[str]:
    """A markdown table of paired comparisons: the score's difference (F1 or UAR) with its
    interval, p, Holm p, and which of the two is supported as better (Holm p < ``alpha``)."""
    what = "UAR" if pairs and pairs[0].score == "uar" else "F1"
    rows = [f"| {names[0]} | {names[1]} | {what} difference | p | Holm p | supported |",
            "| --- | --- | --- | --- | --- | --- |"]
    for c in pairs:
        verdict = f"{c.a if c.diff > 0 else c.b} better" if c.p_holm < alpha else "no (could be chance)"
        rows.append(f"| {c.a} | {c.b} | {c.diff:+.3f} [{c.low:+.3f}, {c.high:+.3f}] | {c.p:.3g} | "
                    f"{c.p_holm:.3g} | {verdict} |")
    return rows


def _ci(pooled: dict, score: str) -> str:
    ci = pooled["interval"].get(score)
    value = pooled["macro_f1" if score == "macro_f1" else "accuracy"]
    return f"{value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")


def _confusions(rows: dict[str, dict], seed: str) -> tuple[list[str], dict[str, np.ndarray]]:
    pooled = {name: row["pooled_by_seed"][seed]["actor_confusion"] for name, row in rows.items()}
    actors = sorted(next(iter(pooled.values())))
    return actors, {name: np.array([c[a] for a in actors]) for name, c in pooled.items()}


def ablation_comparisons(rows: dict[str, dict], seed: str, evaluation: EvalConfig) -> list[PairedComparison]:
    """Each fused variant against each of its one-modality ablations (pooled predictions, paired
    actor-level tests, Holm over these pairs)."""
    _, confs = _confusions(rows, seed)
    pairs = [paired_comparison(v, confs[v], name, confs[name], evaluation.replicates, evaluation.seed, evaluation.level)
             for name, row in rows.items() if row["modalities"] != "av" and (v := row["variant"]) in confs]
    adjusted = holm([c.p for c in pairs]) if pairs else []
    return [PairedComparison(c.a, c.b, c.diff, c.low, c.high, c.p, q) for c, q in zip(pairs, adjusted)]


def protocol_lines(summary: dict, evaluation: EvalConfig, compare) -> list[str]:
    """Markdown lines of the protocol section; ``compare(results, title)`` makes the paired
    comparison lines of the report (:func:`avemo.training.report.comparison_lines`)."""
    if not summary or not summary.get("active"):
        return []
    rows, seeds, k = summary["rows"], [str(s) for s in summary["seeds"]], summary["folds"]
    first = seeds[0]
    what = (f"{k} actor-disjoint folds (every actor in exactly one test fold; validation actors drawn from the "
            "others, balanced by sex)" if k > 1 else "the single split")
    lines = ["## The protocol: cross-validation, seeds and modality ablations", "",
             f"`avemo cv`: every variant trained and evaluated on {what}, with seed(s) {', '.join(seeds)}"
             f" and modalities {', '.join(summary['modalities'])} (av: the fused model; audio, face: one modality "
             "alone). *Pooled*: every fold's test predictions together, with the actor-bootstrap interval "
             f"({evaluation.level:.0%}, {evaluation.replicates} resamples of the "
             f"{rows[next(iter(rows))]['pooled_by_seed'][first]['interval']['actors']} actors).", "",
             "| model | F1 mean +- std over folds | pooled F1 | pooled accuracy | "
             + ("pooled F1 mean +- std over seeds | " if len(seeds) > 1 else "") + "clips |",
             "| --- | --- | --- | --- | " + ("--- | " if len(seeds) > 1 else "") + "--- |"]
    for name, row in rows.items():
        pooled = row["pooled_by_seed"][first]
        spread = f"{row['fold_mean'][first]:.3f} +- {row['fold_std'][first]:.3f}" if k > 1 else "- (one split)"
        over_seeds = f"{row['seed_mean']:.3f} +- {row['seed_std']:.3f} | " if len(seeds) > 1 else ""
        lines.append(f"| {name} | {spread} | {_ci(pooled, 'macro_f1')} | {_ci(pooled, 'accuracy')} | {over_seeds}"
                     f"{pooled['n']} |")
    lines.append("")
    if len(seeds) > 1:
        lines += [f"Columns but the last two are seed {first}'s. The spread over seeds is what initialisation "
                  "alone moves (the same folds, other seeds).", ""]
    if k > 1:
        lines += [f"Macro F1 per fold (seed {first}):", "",
                  "| model | " + " | ".join(f"fold {i}" for i in range(k)) + " |",
                  "| --- |" + " --- |" * k]
        for name, row in rows.items():
            f1 = {p["fold"]: p["macro_f1"] for p in row["per_fold"] if str(p["seed"]) == first}
            lines.append(f"| {name} | " + " | ".join(f"{f1[i]:.3f}" for i in range(k)) + " |")
        lines.append("")
    fused = {name: {"actor_confusion": row["pooled_by_seed"][first]["actor_confusion"],
                    "macro": {"f1": row["pooled_by_seed"][first]["macro_f1"]}}
             for name, row in rows.items() if row["modalities"] == summary.get("native", "av")}
    lines += compare(fused, "## Paired comparisons over the folds (pooled test predictions, macro F1)")
    ablations = ablation_comparisons(rows, first, evaluation)
    if ablations:
        alpha = 1 - evaluation.level
        lines += ["## What each modality contributes (pooled, macro F1)", "",
                  "Each fused variant against its one-modality version on the same clips: the difference fused "
                  f"- ablation with its interval, a paired actor-level permutation test, Holm over these "
                  f"{len(ablations)} pairs.", "", *pair_rows(ablations, alpha, ("fused", "ablation")), ""]
    return lines
