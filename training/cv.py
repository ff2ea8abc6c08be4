"""``avemo cv``: the protocol beyond one split and one seed. Every variant is trained and
evaluated on each of K actor-disjoint folds (``eval.folds``), for each seed (``eval.seeds``) and
modality set (``eval.modalities``: the fused model and its audio-only / face-only ablations);
the summary gives per cell and fold the test scores, their mean and spread over folds and over
seeds, and the scores of all folds' test predictions pooled (every actor is tested once) with
actor-bootstrap intervals and the per-actor confusions the report's paired tests resample.

Each cell (variant, modalities, fold, seed) is kept under ``OUT/CELL/`` with the key of what it
was made from (its fold's split record, the stores, the training and evaluation settings): a
re-run (or ``dvc exp run`` of another setting) retrains only the cells whose key changed, and a
cell stopped half-way is redone.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from avemo.errors import SplitError
from avemo.features.schema import INDEX_FILE
from avemo.fileio import atomic_write
from avemo.params import to_dict
from avemo.splits import LOSO, read_splits
from avemo.training import stats
from avemo.training.config import NATIVE, EvalConfig, TrainConfig, resolve_modalities
from avemo.training.evaluate import evaluate_variant
from avemo.training.train import train_variant

log = logging.getLogger(__name__)
KEY_FILE = "key.txt"
#: Bumped when what a cell computes changes for the same inputs.
PROTOCOL_VERSION = 1


@dataclass(frozen=True)
class Cell:
    """One model of the protocol: a variant with its modalities, trained on a fold with a seed."""

    variant: str
    modalities: str
    fold: int
    seed: int

    @property
    def name(self) -> str:
        return f"{self.variant}-{self.modalities}-fold{self.fold}-seed{self.seed}"

    @property
    def row(self) -> str:
        """The report's row name: the variant, with the modality where it is an ablation."""
        return self.variant if self.modalities == "av" else f"{self.variant} ({self.modalities})"


def fold_files(folder: str | Path) -> list[Path]:
    """``fold-0.json``, ``fold-1.json``, ... of a folds folder (``avemo split --folds``), in order."""
    found = {int(m.group(1)): p for p in Path(folder).glob("fold-*.json") if (m := re.fullmatch(r"fold-(\d+)\.json", p.name))}
    if not found or sorted(found) != list(range(len(found))):
        raise SplitError(f"{folder} holds no complete set of fold-N.json files (found {sorted(found)}): "
                         "run `avemo split --folds K --out FOLDER`")
    return [found[i] for i in range(len(found))]


def is_active(eval_config: EvalConfig, n_folds: int, media: str = "av") -> bool:
    """Whether the protocol adds anything to the main pipeline's one split, one seed, and model of
    the corpus' own modalities (``media``: the corpus', from its split record)."""
    return n_folds > 1 or len(eval_config.seeds) > 1 or modality_sets(eval_config, media) != (NATIVE[media],)


def modality_sets(eval_config: EvalConfig, media: str) -> tuple[str, ...]:
    """``eval.modalities`` resolved for a corpus of ``media`` (auto: its own), in order, once each."""
    return tuple(dict.fromkeys(resolve_modalities(m, media, "eval.modalities") for m in eval_config.modalities))


def _digest(*parts: object) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part if isinstance(part, bytes) else json.dumps(part, sort_keys=True).encode())
        h.update(b"\0")
    return h.hexdigest()


def _stores_key(store: Path) -> str:
    """What the stores hold: their index files (clip -> shard, row, source hash; shard hashes)."""
    return _digest(*[(store / m / INDEX_FILE).read_bytes() for m in ("faces", "mfcc")])


def cell_keys(cell: Cell, fold_file: Path, stores: str, train: TrainConfig, evaluation: EvalConfig) -> tuple[str, str]:
    """(what the cell's model depends on, what its evaluation adds): the fold's split record, the
    stores, the settings that change what is learned; then the interval settings."""
    learn = {k: v for k, v in to_dict(train).items() if k not in ("stream", "memory_gb", "low_memory", "threads",
                                                                  "strategy", "cpu_devices", "variants")}
    trained = _digest(PROTOCOL_VERSION, cell.name, fold_file.read_bytes(), stores, learn)
    return trained, _digest(trained, {k: getattr(evaluation, k) for k in ("replicates", "seed", "level")})


def _done(out: Path) -> list[str]:
    key = out / KEY_FILE
    return key.read_text().split() if key.is_file() else []


def run_cell(cell: Cell, fold_file: Path, store: Path, out: Path, train: TrainConfig, evaluation: EvalConfig,
             keys: tuple[str, str]) -> bool:
    """Train (unless its model is current) and evaluate one cell into ``out``; the keys are written
    last, so a cell stopped half-way is redone. Returns whether a model was trained."""
    done = _done(out)
    retrain = not done or done[0] != keys[0] or not (out / "model.keras").is_file()
    (out / KEY_FILE).unlink(missing_ok=True)
    if retrain:
        cfg = replace(train, seed=cell.seed, modalities=cell.modalities)
        train_variant(cell.variant, store, fold_file, out / "model.keras", cfg, out / "history.csv", verbose=0)
    evaluate_variant(out / "model.keras", store, fold_file, out / "metrics.json", out / "plots", "test",
                     train.batch_size, evaluation)
    atomic_write(out / KEY_FILE, " ".join(keys) + "\n")
    return retrain


def _predictions(cell_dir: Path) -> list[dict[str, str]]:
    with open(cell_dir / "plots" / "predictions.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def summarise(cells: dict[Cell, Path], folds: list[Path], seeds: list[int], evaluation: EvalConfig) -> dict:
    """Per row (variant and modalities): each fold's and seed's test scores, their mean and
    spread over folds (per seed) and over seeds, and every fold's test predictions pooled."""
    records = [read_splits(f) for f in folds]
    speakers = {c: a for r in records for c, a in r.speakers("test").items()}
    labels = list(records[0].labels)
    rows: dict[str, dict] = {}
    for cell, cell_dir in sorted(cells.items(), key=lambda kv: (kv[0].row, kv[0].seed, kv[0].fold)):
        m = json.loads((cell_dir / "metrics.json").read_text())
        row = rows.setdefault(cell.row, {"variant": cell.variant, "modalities": cell.modalities, "per_fold": [],
                                         "pooled_by_seed": {}, "_pool": {}})
        row["per_fold"].append({"fold": cell.fold, "seed": cell.seed, "macro_f1": m["macro"]["f1"],
                                "accuracy": m["accuracy"], "n": m["n"]})
        row["_pool"].setdefault(cell.seed, []).extend(_predictions(cell_dir))
    for row in rows.values():
        fold_f1 = {s: [p["macro_f1"] for p in row["per_fold"] if p["seed"] == s] for s in seeds}
        row["fold_mean"] = {str(s): float(np.mean(v)) for s, v in fold_f1.items()}
        row["fold_std"] = {str(s): float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for s, v in fold_f1.items()}
        for seed, preds in row.pop("_pool").items():
            y = np.array([labels.index(p["true"]) for p in preds])
            pred = np.array([labels.index(p["predicted"]) for p in preds])
            pooled = stats.uncertainty(y, pred, [speakers[p["clip_id"]] for p in preds], len(labels),
                                       evaluation.replicates, evaluation.seed, evaluation.level)
            conf = np.array(list(pooled["actor_confusion"].values())).sum(axis=0)
            row["pooled_by_seed"][str(seed)] = {"macro_f1": float(stats.macro_f1(conf)),
                                                "accuracy": float(stats.accuracy(conf)), "n": int(len(y)), **pooled}
        pooled_f1 = [row["pooled_by_seed"][str(s)]["macro_f1"] for s in seeds]
        row["seed_mean"], row["seed_std"] = float(np.mean(pooled_f1)), float(np.std(pooled_f1, ddof=1)) if len(seeds) > 1 else 0.0
    return {"active": True, "folds": len(folds), "seeds": seeds, "labels": labels, "corpus": records[0].corpus,
            "rows": rows}


def run_protocol(folds_dir: str | Path, store: str | Path, out_dir: str | Path, summary_out: str | Path,
                 variants: tuple[str, ...], train: TrainConfig, evaluation: EvalConfig,
                 progress: bool = True) -> dict:
    """Train and evaluate every cell not already made with the same key; write the summary JSON
    (``{"active": false, ...}`` when ``eval`` asks for nothing beyond the main pipeline)."""
    folds = fold_files(folds_dir)
    if evaluation.folds != LOSO and len(folds) != evaluation.folds:
        raise SplitError(f"{folds_dir} holds {len(folds)} fold(s) but eval.folds is {evaluation.folds}: "
                         f"re-run `avemo split --folds {evaluation.folds}` (dvc repro does)")
    seeds = list(evaluation.seeds) or [train.seed]
    media = read_splits(folds[0]).media
    modalities = modality_sets(evaluation, media)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    atomic_write(Path(out_dir) / "README.txt", "Cells of `avemo cv` (one folder per variant, modalities, fold "
                 "and seed: model, metrics, predictions, and the key of its inputs).\n")
    if not is_active(evaluation, len(folds), media):
        summary = {"active": False, "folds": len(folds), "seeds": seeds, "modalities": list(modalities),
                   "note": "one split, one seed, the corpus' own model: Table I is the protocol (set eval.folds, "
                           "eval.seeds or eval.modalities for more)"}
        atomic_write(summary_out, json.dumps(summary, indent=1) + "\n")
        return summary
    store, out_dir = Path(store), Path(out_dir)
    stores = _stores_key(store)
    cells = {Cell(v, m, f, s): out_dir / Cell(v, m, f, s).name for m in modalities for v in variants
             for f in range(len(folds)) for s in seeds}
    keys = {c: cell_keys(c, folds[c.fold], stores, train, evaluation) for c in cells}
    todo = {c: k for c, k in keys.items() if _done(cells[c]) != list(k)}
    log.info("protocol: %d cell(s), %d to (re)make (%d folds x %d seed(s) x %d modality set(s) x %d variant(s))",
             len(cells), len(todo), len(folds), len(seeds), len(modalities), len(variants))
    trained = 0
    for cell in tqdm(sorted(todo, key=lambda c: c.name), desc="cv: cells", unit="cell", disable=not progress):
        cells[cell].mkdir(parents=True, exist_ok=True)
        trained += run_cell(cell, folds[cell.fold], store, cells[cell], train, evaluation, todo[cell])
    summary = summarise(cells, folds, seeds, evaluation)
    summary.update(native=NATIVE[media], modalities=list(modalities), variants=list(variants), trained=trained,
                   evaluated=len(todo))
    atomic_write(summary_out, json.dumps(summary, indent=1) + "\n")
    return summary
