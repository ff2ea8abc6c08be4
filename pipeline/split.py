"""Actor-disjoint train/validation/test splits, and a leakage audit for any split files."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from pathlib import Path, PurePosixPath

import numpy as np

from avemo.errors import SplitError
from avemo.names import CLIP_NAME_SEARCH
from avemo.params import to_dict
from avemo.pipeline.config import SplitConfig
from avemo.pipeline.corpora import KINDS, kind_of
from avemo.pipeline.corpus_ravdess import SEARCH as RAVDESS_SEARCH
from avemo.pipeline.manifest import ManifestRow, corpus_media
from avemo.splits import LOSO, SPLITS, SplitPart, Splits, read_splits

#: The group of actors whose sex the corpus does not say (stratified as one more group).
UNKNOWN_SEX = "unknown"
#: The method of a split record of a corpus with fewer than three speakers (TESS' two): no
#: speaker-independent split exists, so every clip is a test clip (a cross-corpus test set).
TEST_ONLY = ("test only: fewer than 3 speakers, no speaker-independent train/validation/test split exists; "
             "every clip is in the test split (a cross-corpus test set: avemo evaluate --split all)")



def _take(rng: np.random.Generator, pool: list[str], n: int) -> list[str]:
    picked = rng.choice(len(pool), size=n, replace=False) if n else []
    chosen = sorted(pool[i] for i in picked)
    for actor in chosen:
        pool.remove(actor)
    return chosen


def _quota(n: int, groups: dict[str, list[str]], total: int) -> dict[str, int]:
    """Split ``n`` over groups in proportion to their size (largest remainder, ties by name)."""
    exact = {g: n * len(a) / total for g, a in groups.items()}
    quota = {g: int(v) for g, v in exact.items()}
    for g in sorted(exact, key=lambda g: (-(exact[g] - quota[g]), g))[: n - sum(quota.values())]:
        quota[g] += 1
    return quota


def held_out_counts(config: SplitConfig, kind: str, n_actors: int) -> tuple[int, int]:
    """(test, val) actor counts: the config's, with ``auto`` the corpus kind's for its size."""
    auto = kind_of(kind).held_out(n_actors)
    return tuple(auto if v == "auto" else int(v) for v in (config.test_actors, config.val_actors))


def make_split(rows: list[ManifestRow], config: SplitConfig = SplitConfig(),
               labels: tuple[str, ...] = (), kind: str = "crema-d") -> Splits:
    """Assign whole actors to test, val and train; record every clip's label and speaker and the
    label set (``labels``; default: the names in the rows, sorted).

    With ``stratify='sex'`` each held-out split gets the sexes in the corpus' proportion (CREMA-D:
    48 male, 43 female actors; actors of unknown sex are one more group). Deterministic for a seed.
    A corpus of one or two speakers gets a test-only record (:data:`TEST_ONLY`).
    """
    labels = tuple(labels) or tuple(sorted({r.emotion for r in rows}))
    actors = sorted({r.actor for r in rows})
    n_test, n_val = held_out_counts(config, kind, len(actors))
    need = n_test + n_val + 1
    if len(actors) < need:
        if len(actors) >= 3 or not actors:
            raise SplitError(f"the manifest has {len(actors)} actor(s), but {n_test} test and {n_val} validation "
                             f"actors (split.test_actors, split.val_actors) need at least {need} (one left for "
                             "training): lower them in params.yaml")
        # fewer speakers than any speaker-independent split needs (test, validation, training):
        # every clip is a test clip, for cross-corpus evaluation (training on it is refused)
        assignment = {"test": actors, "val": [], "train": []}
        return Splits(_parts(rows, assignment, labels), TEST_ONLY, config.seed, to_dict(config), corpus=kind,
                      labels=labels, media=corpus_media(rows))
    rng = np.random.default_rng(config.seed)
    if config.stratify == "sex":
        sex = {r.actor: r.sex or UNKNOWN_SEX for r in rows}
        groups: dict[str, list[str]] = defaultdict(list)
        for a in actors:
            groups[sex[a]].append(a)
        groups = dict(sorted(groups.items()))
        picked: dict[str, list[str]] = {"test": [], "val": []}
        for split, n in (("test", n_test), ("val", n_val)):
            remaining = sum(len(g) for g in groups.values())
            for g, k in _quota(n, groups, remaining).items():
                if k > len(groups[g]):
                    raise SplitError(f"not enough {g} actors left for the {split} split")
                picked[split] += _take(rng, groups[g], k)
        test, val = sorted(picked["test"]), sorted(picked["val"])
        method = "actor-disjoint, stratified by sex"
    else:
        pool = list(actors)
        test = _take(rng, pool, n_test)
        val = _take(rng, pool, n_val)
        method = "actor-disjoint, uniform over actors"
    held = set(test) | set(val)
    assignment = {"test": test, "val": val, "train": [a for a in actors if a not in held]}
    return Splits(_parts(rows, assignment, labels), method, config.seed, to_dict(config), corpus=kind, labels=labels,
                  media=corpus_media(rows))


def _parts(rows: list[ManifestRow], assignment: dict[str, list[str]], labels: tuple[str, ...]) -> dict[str, SplitPart]:
    parts = {}
    for split in SPLITS:
        members = set(assignment[split])
        chosen = sorted((r for r in rows if r.actor in members), key=lambda r: r.clip_id)
        counts = Counter(r.emotion for r in chosen)
        parts[split] = SplitPart(tuple(sorted(assignment[split])), tuple(r.clip_id for r in chosen),
                                 {e: counts.get(e, 0) for e in labels}, tuple(labels.index(r.emotion) for r in chosen),
                                 tuple(r.actor for r in chosen))
    return parts


def make_folds(rows: list[ManifestRow], k: int | str, config: SplitConfig = SplitConfig(),
               labels: tuple[str, ...] = (), kind: str = "crema-d") -> list[Splits]:
    """``k`` actor-disjoint folds: every actor in exactly one fold's test split; each fold's
    validation actors (``split.val_actors``) drawn from the other actors, the rest train.
    ``k='loso'``: leave one speaker out, one fold per speaker (its test split that speaker alone).

    With ``stratify='sex'`` actors are dealt to the test folds sex by sex (so each fold holds the
    sexes in about the corpus' proportion) and validation actors are drawn per sex as
    :func:`make_split` draws them. ``k=1`` is :func:`make_split`'s single split (the paper's).
    Deterministic for ``config.seed``."""
    if k == 1:
        return [make_split(rows, config, labels, kind)]
    labels = tuple(labels) or tuple(sorted({r.emotion for r in rows}))
    actors = sorted({r.actor for r in rows})
    loso = k == LOSO
    if loso:
        k = len(actors)
    _, n_val = held_out_counts(config, kind, len(actors))
    if not isinstance(k, int) or k < 2 or len(actors) < k or len(actors) - -(-len(actors) // k) < n_val + 1:
        raise SplitError(f"{k} folds of {len(actors)} actor(s) with {n_val} validation actors each leave no "
                         "training actor (or a fold without test actors): lower eval.folds or split.val_actors")
    rng = np.random.default_rng(config.seed)
    sex = {r.actor: (r.sex or UNKNOWN_SEX) if config.stratify == "sex" else "all" for r in rows}
    dealt: list[str] = list(actors) if loso else []  # LOSO: fold i tests the i-th speaker (sorted)
    for group in sorted(set(sex.values())) if not loso else ():  # sex by sex, shuffled, dealt round-robin
        members = [a for a in actors if sex[a] == group]
        dealt += [members[i] for i in rng.permutation(len(members))]
    folds = []
    for fold in range(k):
        test = sorted(dealt[fold::k])
        pool = {g: [a for a in actors if sex[a] == g and a not in test] for g in sorted(set(sex.values()))}
        val = []
        for g, n in _quota(n_val, pool, sum(len(p) for p in pool.values())).items():
            val += _take(rng, pool[g], n)
        held = set(test) | set(val)
        assignment = {"test": test, "val": sorted(val), "train": [a for a in actors if a not in held]}
        method = (f"leave one speaker out ({k} speakers), fold {fold}: speaker {test[0]}" if loso else
                  f"actor-disjoint {k}-fold cross-validation, fold {fold}") + (
            ", validation stratified by sex" if loso and config.stratify == "sex" else
            ", stratified by sex" if config.stratify == "sex" else "")
        folds.append(Splits(_parts(rows, assignment, labels), method, config.seed,
                            {**to_dict(config), "folds": k, "fold": fold, "loso": loso}, corpus=kind, labels=labels,
                            media=corpus_media(rows)))
    return folds


def fold_path(folder: str | Path, fold: int) -> Path:
    """Where fold ``fold``'s split record is written: ``FOLDER/fold-N.json``."""
    return Path(folder) / f"fold-{fold}.json"


def _known_id(cell: str, known: set[str]) -> str | None:
    """The manifest clip id a CSV cell names (the id itself, or a path ending in it)."""
    try:
        parts = PurePosixPath(cell.replace("\\", "/")).with_suffix("").parts if "." in cell or "/" in cell else (cell,)
    except ValueError:  # "." or "a/": no file name
        return None
    return next(("/".join(parts[i:]) for i in range(len(parts)) if "/".join(parts[i:]) in known), None)


def _clips_in_csv(path: Path, known: set[str]) -> list[str]:
    """Clip ids found in any column of a CSV (other projects' per-split lists): the manifest's ids
    (``known``) where given, and CREMA-D and RAVDESS names."""
    found: list[str] = []
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        for row in csv.reader(fh):
            for cell in row:
                hit = _known_id(cell.strip(), known) if known and cell.strip() else None
                found += [hit] if hit else CLIP_NAME_SEARCH.findall(cell) + RAVDESS_SEARCH.findall(cell)
    return found


def load_split_files(paths: list[str | Path], known: set[str] = frozenset()
                     ) -> tuple[dict[str, dict[str, list[str]]], dict[str, str], list[Splits]]:
    """Split files to audit, grouped: each JSON record on its own (a fold's train and another
    fold's test may share actors), all CSV lists (one per split, name = file stem) together.
    Returns (group -> split name -> clip ids, clip id -> speaker the files record, the JSON
    records); ``known``: the manifest's clip ids, found in any CSV column."""
    groups: dict[str, dict[str, list[str]]] = {}
    recorded: dict[str, str] = {}
    records: list[Splits] = []
    for p in map(Path, paths):
        if not p.is_file():
            raise SplitError(f"split file {p} does not exist")
        if p.suffix.lower() == ".json":
            record = read_splits(p, labelled=False)
            records.append(record)
            groups[str(p)] = {name: list(part.clips) for name, part in record.parts.items()}
            for part in record.parts.values():
                recorded.update(zip(part.clips, part.speakers))
        else:
            clips = _clips_in_csv(p, known)
            if not clips:
                raise SplitError(f"{p} holds no clip id in any column (a CREMA-D or RAVDESS name, or with "
                                 "--manifest an id of that manifest)")
            groups.setdefault("CSV lists", {})[p.stem] = clips
    return groups, recorded, records


def check_folds(records: list[Splits]) -> list[str]:
    """What is wrong with a set of k-fold split records (empty: every actor of the corpus is in
    exactly one fold's test split, and all k folds are there)."""
    folds = [r for r in records if "folds" in r.params]
    if not folds:
        return []
    k = folds[0].params["folds"]
    problems = []
    if sorted(r.params.get("fold") for r in folds) != list(range(k)):
        problems.append(f"expected folds 0..{k - 1}, got {sorted(r.params.get('fold') for r in folds)}")
    everyone = {a for p in folds[0].parts.values() for a in p.actors}
    tested = Counter(a for r in folds for a in r.parts["test"].actors)
    twice = sorted(a for a, n in tested.items() if n > 1)
    never = sorted(everyone - set(tested))
    if twice:
        problems.append(f"actor(s) in more than one test fold: {', '.join(twice)}")
    if never and not problems:
        problems.append(f"actor(s) in no test fold: {', '.join(never)}")
    return problems


def speaker_finder(rows: list[ManifestRow] | None = None, recorded: dict[str, str] | None = None):
    """Clip id -> speaker: from a manifest's rows or a split file's own record where given, else
    from the clip's name as a corpus kind reads it; SplitError for a clip no source knows."""
    known = {r.clip_id: r.actor for r in rows or ()}
    known.update(recorded or {})

    def speaker(clip: str) -> str:
        if clip in known:
            return known[clip]
        for kind in KINDS.values():
            found = kind.speaker_of(clip)
            if found is not None:
                return found
        raise SplitError(f"clip {clip!r}: its speaker is unknown (not in the manifest, and not a name of "
                         f"{', '.join(KINDS)}): give --manifest")
    return speaker


def check_leakage(splits: dict[str, list[str]], speaker=None) -> dict[str, dict[str, int]]:
    """Speakers found in more than one split -> {split: clip count}; empty means no leakage.
    ``speaker``: clip id -> speaker (default: :func:`speaker_finder`, from the clip names)."""
    speaker = speaker or speaker_finder()
    per_actor: dict[str, Counter] = defaultdict(Counter)
    for name, clips in splits.items():
        for clip in clips:
            per_actor[speaker(clip)][name] += 1
    return {a: dict(sorted(c.items())) for a, c in sorted(per_actor.items()) if len(c) > 1}
