"""The bundled CREMA-D metadata CSVs (clip names, actor demographics, crowd votes)."""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("avemo").joinpath("data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@lru_cache(maxsize=None)
def clip_names() -> tuple[str, ...]:
    """All 7,442 CREMA-D clip names, from ``SentenceFilenames.csv``."""
    return tuple(row["Filename"] for row in _read("SentenceFilenames.csv"))


@lru_cache(maxsize=None)
def demographics() -> dict[int, dict[str, str]]:
    """Actor id -> {Age, Sex, Race, Ethnicity}, from ``VideoDemographics.csv``."""
    return {int(r["ActorID"]): {k: v for k, v in r.items() if k != "ActorID"}
            for r in _read("VideoDemographics.csv")}


#: The crowd's vote letters in summaryTable.csv -> our emotion codes.
VOTE_CODES = {"A": "ANG", "D": "DIS", "F": "FEA", "H": "HAP", "N": "NEU", "S": "SAD"}


@lru_cache(maxsize=None)
def crowd_votes() -> dict[str, dict[str, tuple[str, ...]]]:
    """Clip -> {voice, face, multimodal: majority emotion codes (ties keep all)}."""
    out = {}
    for r in _read("summaryTable.csv"):
        out[r["FileName"]] = {
            mode: tuple(VOTE_CODES[c] for c in r[col].split(":") if c in VOTE_CODES)
            for mode, col in (("voice", "VoiceVote"), ("face", "FaceVote"),
                              ("multimodal", "MultiModalVote"))
        }
    return out
