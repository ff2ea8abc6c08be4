"""Marker files that tell a demo corpus from a real one (the demo stage writes them; training
and the report read them: the demo corpus caps epochs and gets no human baseline)."""

from __future__ import annotations

from pathlib import Path

DEMO_MARKER = "AVEMO_DEMO_CORPUS.txt"
UNUSED_MARKER = "NOT_USED.txt"
#: Written by ``avemo demo-corpus --full``: a CREMA-D-sized corpus for scale rehearsals. Not a
#: demo corpus: training uses the paper's settings on it, as on CREMA-D.
REHEARSAL_MARKER = "AVEMO_REHEARSAL_CORPUS.txt"


def is_demo_corpus(root: str | Path | None) -> bool:
    """Whether ``root`` is a demo corpus built by ``avemo demo-corpus`` (its marker file)."""
    return root is not None and (Path(root) / DEMO_MARKER).is_file()
