"""The split record: which actors and clips are in train, val and test (``data/splits.json``).

Made by the pipeline's split stage, read by training, evaluation and the report; the JSON
layout is a data contract (docs/architecture.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from avemo.errors import SplitError
from avemo.fileio import atomic_write

SPLITS = ("train", "val", "test")
#: 2: speakers are strings, every clip's label and speaker are recorded, with the label set.
SPLIT_FORMAT = 2
#: ``eval.folds`` / ``avemo split --folds`` for leave-one-speaker-out: one fold per speaker.
LOSO = "loso"
#: ``--split all``: every clip of every split (a model evaluated on another corpus' whole store).
ALL = "all"


@dataclass(frozen=True)
class SplitPart:
    """One split: its speakers, its clip ids (sorted), each clip's label (class index) and
    speaker, and the clips per label."""

    actors: tuple[str, ...]
    clips: tuple[str, ...]
    class_counts: dict[str, int] = field(default_factory=dict)
    labels: tuple[int, ...] = ()
    speakers: tuple[str, ...] = ()

    @property
    def n_clips(self) -> int:
        return len(self.clips)


@dataclass(frozen=True)
class Splits:
    """Split name -> :class:`SplitPart`, with how the split was made (method, seed, params), the
    corpus kind and its label set (class index = position)."""

    parts: dict[str, SplitPart]
    method: str = ""
    seed: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    format: int = SPLIT_FORMAT
    corpus: str = ""
    labels: tuple[str, ...] = ()
    #: What the corpus' clips hold: ``av``, ``audio`` (a speech corpus) or ``video`` (silent).
    media: str = "av"

    def _parts(self, name: str) -> list[SplitPart]:
        return list(self.parts.values()) if name == ALL else [self.parts[name]] if name in self.parts else []

    def clips(self, name: str) -> list[str]:
        """The clip ids of split ``name`` (``all``: of every split; [] when there is no such split)."""
        return [c for p in self._parts(name) for c in p.clips]

    def labelled(self, name: str) -> dict[str, int]:
        """Clip id -> class index, for split ``name`` (``all``: every split)."""
        return {c: y for p in self._parts(name) for c, y in zip(p.clips, p.labels)}

    def speakers(self, name: str) -> dict[str, str]:
        """Clip id -> speaker, for split ``name`` (``all``: every split)."""
        return {c: a for p in self._parts(name) for c, a in zip(p.clips, p.speakers)}

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "corpus": self.corpus, "labels": list(self.labels), "media": self.media,
                "method": self.method, "seed": self.seed, "params": self.params,
                "splits": {name: {"actors": list(p.actors), "n_clips": p.n_clips,
                                  "class_counts": dict(p.class_counts), "clips": list(p.clips),
                                  "labels": list(p.labels), "speakers": list(p.speakers)}
                           for name, p in self.parts.items()}}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "Splits":
        parts = {name: SplitPart(tuple(str(a) for a in s.get("actors", ())), tuple(s["clips"]),
                                 dict(s.get("class_counts", {})), tuple(int(y) for y in s.get("labels", ())),
                                 tuple(str(a) for a in s.get("speakers", ())))
                 for name, s in doc["splits"].items()}
        return cls(parts, doc.get("method", ""), doc.get("seed"), dict(doc.get("params", {})),
                   int(doc.get("format", 1)), str(doc.get("corpus", "")), tuple(doc.get("labels", ())),
                   str(doc.get("media", "av")))


def write_splits(splits: Splits, out: str | Path) -> Path:
    """Write the split as indented JSON (atomically)."""
    return atomic_write(out, json.dumps(splits.to_dict(), indent=1) + "\n")


def read_splits(path: str | Path, labelled: bool = True) -> Splits:
    """Read a split JSON written by :func:`write_splits`; SplitError naming the file otherwise.
    ``labelled``: the file must record every clip's label and speaker (format 2; training and
    evaluation read them there, never from a clip's name)."""
    path = Path(path)
    if not path.is_file():
        raise SplitError(f"split file {path} does not exist: run `avemo split` first")
    try:
        splits = Splits.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SplitError(f"split file {path} is not an avemo split JSON ({exc})") from exc
    if labelled and (splits.format < 2 or not splits.labels or any(
            len(p.labels) != p.n_clips or len(p.speakers) != p.n_clips for p in splits.parts.values())):
        raise SplitError(f"split file {path} does not record its clips' labels and speakers (made by an "
                         "older avemo, format 1): re-make it with `avemo split` (or `dvc repro`)")
    return splits
