"""Actor-disjoint train/validation/test splits, and a leakage audit for any split files."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from avemo.errors import SplitError
from avemo.metadata import demographics
from avemo.names import CLIP_NAME_SEARCH, EMOTIONS, parse_clip_name
from avemo.params import to_dict
from avemo.pipeline.config import SplitConfig
from avemo.pipeline.manifest import ManifestRow
from avemo.splits import SPLITS, SplitPart, Splits, read_splits


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


def make_split(rows: list[ManifestRow], config: SplitConfig = SplitConfig()) -> Splits:
    """Assign whole actors to test, val and train.

    With ``stratify='sex'`` each held-out split gets males and females in the corpus'
    proportion (CREMA-D: 48 male, 43 female actors). Deterministic for a seed.
    """
    actors = sorted({r.actor for r in rows})
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
    parts = {}
    for split in SPLITS:
        members = set(assignment[split])
        clips = sorted(r.clip_id for r in rows if r.actor in members)
        counts = Counter(parse_clip_name(c).emotion for c in clips)
        parts[split] = SplitPart(tuple(assignment[split]), tuple(clips), {e: counts.get(e, 0) for e in EMOTIONS})
    return Splits(parts, method, config.seed, to_dict(config))


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
            for name, part in read_splits(p).parts.items():
                splits[f"{name}" if len(paths) == 1 else f"{p.stem}:{name}"] = list(part.clips)
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
