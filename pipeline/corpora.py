"""Corpus kinds, as plug-ins: each module of :data:`KINDS` finds a corpus' clips with their
label, speaker and (where known) sex, and knows its label set and held-out sizes.

A kind module defines ``NAME``, ``LABELS`` (its own labels in class order; () when they come from
the data), ``find(root, CorpusConfig) -> ManifestResult`` (rows carry the corpus' own label
names), ``held_out(n_actors) -> int`` (actors per held-out split for ``split.*_actors: auto``)
and ``speaker_of(clip_id) -> str | None`` (for auditing split files without a manifest).
Adding a corpus is one such module plus its line in :data:`KINDS` and its name in
:data:`avemo.pipeline.config.CORPUS_KINDS` (docs/architecture.md, corpus kinds).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import ModuleType

from avemo.errors import ConfigError
from avemo.pipeline import corpus_cremad, corpus_emodb, corpus_labels_csv, corpus_ravdess, corpus_tess
from avemo.pipeline.config import CORPUS_KINDS, CorpusConfig, ManifestConfig
from avemo.pipeline.manifest import ManifestResult, with_media
from avemo.pipeline.media import has_audio_track

KINDS: dict[str, ModuleType] = {m.NAME: m for m in (corpus_cremad, corpus_ravdess, corpus_labels_csv, corpus_emodb,
                                                     corpus_tess)}
assert tuple(KINDS) == CORPUS_KINDS, "pipeline/config.py CORPUS_KINDS must list the kinds of KINDS"


def kind_of(name: str) -> ModuleType:
    """The corpus kind module called ``name``; ConfigError listing the kinds otherwise."""
    try:
        return KINDS[name]
    except KeyError:
        raise ConfigError(f"unknown corpus kind {name!r}: one of {', '.join(KINDS)}") from None


def scan_corpus(root: str | Path, config: ManifestConfig = ManifestConfig(),
                corpus: CorpusConfig = CorpusConfig()) -> ManifestResult:
    """The manifest of the corpus at ``root`` of kind ``corpus.kind``, its labels put in the label
    set (``corpus.labels``, else the kind's own) through ``corpus.label_map``: a clip whose label
    has no image there is rejected with that reason, clips named in ``config.exclude`` are left
    out and listed; each row's media said (a video without an audio file is probed for its own
    track). Rows sorted by clip id."""
    root = Path(root)
    found = kind_of(corpus.kind).find(root, corpus)
    labels = tuple(corpus.labels) or found.labels
    result = ManifestResult(rejected=list(found.rejected), kind=found.kind, labels=labels)
    excluded = set(config.exclude)
    for row in found.rows:
        if row.clip_id in excluded:
            result.excluded.append(row.clip_id)
            continue
        name = corpus.label_map.get(row.emotion, row.emotion)
        if name not in labels:
            via = f" (mapped to {name!r} by corpus.label_map)" if name != row.emotion else ""
            result.rejected.append({"file": row.video or row.audio,
                                    "reason": f"label {row.emotion!r}{via} has no image in the label set "
                                    f"{', '.join(labels)} (corpus.labels, corpus.label_map)"})
            continue
        row = with_media(row, lambda video: has_audio_track(root / video))
        result.rows.append(replace(row, emotion=name, label=labels.index(name)))
    return result
