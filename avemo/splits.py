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
SPLIT_FORMAT = 1


@dataclass(frozen=True)
class SplitPart:
    """One split: its actors, its clip ids (sorted) and the clips per emotion."""

    actors: tuple[int, ...]
    clips: tuple[str, ...]
    class_counts: dict[str, int] = field(default_factory=dict)

    @property
    def n_clips(self) -> int:
        return len(self.clips)


@dataclass(frozen=True)
class Splits:
    """Split name -> :class:`SplitPart`, with how the split was made (method, seed, params)."""

    parts: dict[str, SplitPart]
    method: str = ""
    seed: int | None = None
    params: dict[str, Any] = field(default_factory=dict)
    format: int = SPLIT_FORMAT

    def clips(self, name: str) -> list[str]:
        """The clip ids of split ``name`` ([] when the file has no such split)."""
        part = self.parts.get(name)
        return list(part.clips) if part else []

    def to_dict(self) -> dict[str, Any]:
        return {"format": self.format, "method": self.method, "seed": self.seed, "params": self.params,
                "splits": {name: {"actors": list(p.actors), "n_clips": p.n_clips,
                                  "class_counts": dict(p.class_counts), "clips": list(p.clips)}
                           for name, p in self.parts.items()}}

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> "Splits":
        parts = {name: SplitPart(tuple(int(a) for a in s.get("actors", ())), tuple(s["clips"]),
                                 dict(s.get("class_counts", {})))
                 for name, s in doc["splits"].items()}
        return cls(parts, doc.get("method", ""), doc.get("seed"), dict(doc.get("params", {})),
                   int(doc.get("format", SPLIT_FORMAT)))


def write_splits(splits: Splits, out: str | Path) -> Path:
    """Write the split as indented JSON (atomically)."""
    return atomic_write(out, json.dumps(splits.to_dict(), indent=1) + "\n")


def read_splits(path: str | Path) -> Splits:
    """Read a split JSON written by :func:`write_splits`; SplitError naming the file otherwise."""
    path = Path(path)
    if not path.is_file():
        raise SplitError(f"split file {path} does not exist: run `avemo split` first")
    try:
        return Splits.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SplitError(f"split file {path} is not an avemo split JSON ({exc})") from exc
