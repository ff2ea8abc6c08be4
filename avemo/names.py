"""CREMA-D clip names (``AAAA_SSS_EEE_LL``): parsing, codes and class indices."""

from __future__ import annotations

import re
from dataclasses import dataclass

from avemo.errors import ClipNameError

#: Class index = position in this tuple (docs/architecture.md, data contracts).
EMOTIONS: tuple[str, ...] = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
#: The twelve sentence codes of CREMA-D with their text.
SENTENCES: dict[str, str] = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}
LEVELS: tuple[str, ...] = ("LO", "MD", "HI", "XX")
ACTOR_MIN, ACTOR_MAX = 1001, 1091

_PATTERN = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
#: Finds a clip name inside any text (a CSV cell, a path).
CLIP_NAME_SEARCH = re.compile(r"(?<![0-9])(\d{4}_[A-Z]{3}_[A-Z]{3}_[A-Z]{2})(?![A-Z0-9])")


@dataclass(frozen=True, order=True)
class ClipName:
    """A parsed clip name; ``label`` is the emotion's class index."""

    actor: int
    sentence: str
    emotion: str
    level: str

    @property
    def clip_id(self) -> str:
        return f"{self.actor}_{self.sentence}_{self.emotion}_{self.level}"

    @property
    def label(self) -> int:
        return EMOTIONS.index(self.emotion)


def parse_clip_name(name: str) -> ClipName:
    """Parse ``AAAA_SSS_EEE_LL``; raise :class:`ClipNameError` saying which part is wrong."""
    m = _PATTERN.match(name)
    if m is None:
        raise ClipNameError(f"{name!r} is not of the form AAAA_SSS_EEE_LL "
                            "(actor_sentence_emotion_level, e.g. 1001_DFA_ANG_XX)")
    actor, sentence, emotion, level = m.groups()
    if not ACTOR_MIN <= int(actor) <= ACTOR_MAX:
        raise ClipNameError(f"{name!r}: actor {actor} is outside CREMA-D's {ACTOR_MIN}-{ACTOR_MAX}")
    if sentence not in SENTENCES:
        raise ClipNameError(f"{name!r}: unknown sentence code {sentence!r} "
                            f"(expected one of {', '.join(SENTENCES)})")
    if emotion not in EMOTIONS:
        raise ClipNameError(f"{name!r}: unknown emotion code {emotion!r} "
                            f"(expected one of {', '.join(EMOTIONS)})")
    if level not in LEVELS:
        raise ClipNameError(f"{name!r}: unknown level code {level!r} "
                            f"(expected one of {', '.join(LEVELS)})")
    return ClipName(int(actor), sentence, emotion, level)
