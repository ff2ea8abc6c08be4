"""Actor-disjoint train/validation/test splits, and a leakage audit for any split files."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from pipeline.config import SplitConfig, to_dict
from pipeline.errors import SplitError
from pipeline.metadata import demographics
from pipeline.names import CLIP_NAME_SEARCH, EMOTIONS, parse_clip_name

SPLITS = ("train", "val", "test")
SPLIT_FORMAT = 1


def _take(rng: np.random.Generator, pool: list[int], n: int) -> list[int]:
    picked = rng.choice(len(pool), size=n, replace=False) if n else []
    chosen = sorted(pool[i] for i in picked)
    for actor in chosen:
        pool.remove(actor)
    return chosen


def _quota(n: int, groups: dict[str, list[int]], total: int) -> dict[str, int]:
    """Split ``n`` over groups in proportion to their size (largest remainder, ties by name)."""
    exact = {g: n * len(a) / total for g, a in groups.items()}
    quota = {g: int(v) for g, v in exact.items()}
    for g in sorted(exact, key=lambda g: (-(exact[g] - quota[g]), g))[: n - sum(quota.values())]:
        quota[g] += 1
    return quota


def make_split(rows: list[dict[str, str]], config: SplitConfig = SplitConfig()) -> dict:
    """Assign whole actors to test, val and train; return the split document (JSON-able).

    With ``stratify='sex'`` each held-out split gets males and females in the corpus'
    proportion (CREMA-D: 48 male, 43 female actors). Deterministic for a seed.
    """
    actors = sorted({int(r["actor"]) for r in rows})
    need = config.test_actors + config.val_actors + 1
    if len(actors) < need:
        raise SplitError(f"the manifest has {len(actors)} actor(s), but split.test_actors="
                         f"{config.test_actors} and split.val_actors={config.val_actors} need at "
                         f"least {need} (one left for training): lower them in params.yaml")
    rng = np.random.default_rng(config.seed)
    if config.stratify == "sex":
        demo = demographics()
        unknown = [a for a in actors if a not in demo]
        if unknown:
            raise SplitError(f"actor(s) {unknown} are not in VideoDemographics.csv: "
                             "use --stratify none")
        groups: dict[str, list[int]] = defaultdict(list)
        for a in actors:
            groups[demo[a]["Sex"]].append(a)
        groups = dict(sorted(groups.items()))
        picked: dict[str, list[int]] = {"test": [], "val": []}
        for split, n in (("test", config.test_actors), ("val", config.val_actors)):
            remaining = sum(len(g) for g in groups.values())
            for g, k in _quota(n, groups, remaining).items():
                if k > len(groups[g]):
                    raise SplitError(f"not enough {g} actors left for the {split} split")
                picked[split] += _take(rng, groups[g], k)
        test, val = sorted(picked["test"]), sorted(picked["val"])
        method = "actor-disjoint, stratified by sex"
    else:
        pool = list(actors)
        test = _take(rng, pool, config.test_actors)
        val = _take(rng, pool, config.val_actors)
        method = "actor-disjoint, uniform over actors"
    held = set(test) | set(val)
    assignment = {"test": test, "val": val, "train": [a for a in actors if a not in held]}
    doc: dict = {"format": SPLIT_FORMAT, "method": method, "seed": config.seed,
                 "params": to_dict(config), "splits": {}}
    for split in SPLITS:
        members = set(assignment[split])
        clips = sorted(r["clip_id"] for r in rows if int(r["actor"]) in members)
        counts = Counter(parse_clip_name(c).emotion for c in clips)
        doc["splits"][split] = {
            "actors": assignment[split],
            "n_clips": len(clips),
            "class_counts": {e: counts.get(e, 0) for e in EMOTIONS},
            "clips": clips,
        }
    return doc


def write_split(doc: dict, out: str | Path) -> Path:
    """Write a split document as indented JSON (atomically)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1) + "\n")
    os.replace(tmp, out)
    return out


def read_split(path: str | Path) -> dict[str, list[str]]:
    """Split name -> clip ids, from our JSON."""
    path = Path(path)
    if not path.is_file():
        raise SplitError(f"split file {path} does not exist: run `avemo split` first")
    try:
        doc = json.loads(path.read_text())
        return {name: list(s["clips"]) for name, s in doc["splits"].items()}
    except (ValueError, KeyError, TypeError) as exc:
        raise SplitError(f"split file {path} is not an avemo split JSON ({exc})") from exc


def _clips_in_csv(path: Path) -> list[str]:
    """Clip names found in any column of a CSV (other projects' per-split lists)."""
    found: list[str] = []
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        for row in csv.reader(fh):
            for cell in row:
                found += CLIP_NAME_SEARCH.findall(cell)
    return found


def load_split_files(paths: list[str | Path]) -> dict[str, list[str]]:
    """Split name -> clip names, from our JSON or from one CSV per split (name = file stem)."""
    splits: dict[str, list[str]] = {}
    for p in map(Path, paths):
        if not p.is_file():
            raise SplitError(f"split file {p} does not exist")
        if p.suffix.lower() == ".json":
            for name, clips in read_split(p).items():
                splits[f"{name}" if len(paths) == 1 else f"{p.stem}:{name}"] = clips
        else:
            clips = _clips_in_csv(p)
            if not clips:
                raise SplitError(f"{p} holds no CREMA-D clip name (AAAA_SSS_EEE_LL) in any column")
            splits[p.stem] = clips
    return splits


def check_leakage(splits: dict[str, list[str]]) -> dict[int, dict[str, int]]:
    """Actors found in more than one split -> {split: clip count}; empty means no leakage."""
    per_actor: dict[int, Counter] = defaultdict(Counter)
    for name, clips in splits.items():
        for clip in clips:
            per_actor[int(clip.split("_", 1)[0])][name] += 1
    return {a: dict(sorted(c.items())) for a, c in sorted(per_actor.items()) if len(c) > 1}
