"""What predict returns: per clip or window the label and every class' probability; per file
the timeline of its windows and a summary."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ClipResult:
    """One clip's (or window's) prediction: ``probabilities`` label -> p (empty when there is
    none, e.g. no face for a model that needs one), the share of sampled frames where the face
    was located, and flags (``no face``, ``face lost on some frames``, ``silent audio``)."""

    probabilities: dict[str, float]
    face_share: float | None = None
    flags: tuple[str, ...] = ()

    @property
    def label(self) -> str | None:
        return max(self.probabilities, key=self.probabilities.get) if self.probabilities else None


@dataclass(frozen=True)
class WindowResult(ClipResult):
    """A window of a long recording: ``start`` and ``end`` in seconds."""

    start: float = 0.0
    end: float = 0.0


@dataclass
class FileResult:
    """One input: the clip's result (short files), or the timeline of its windows and their mean
    probabilities (long files); ``error`` when it could not be predicted."""

    path: str
    duration: float | None = None
    clip: ClipResult | None = None
    timeline: list[WindowResult] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def probabilities(self) -> dict[str, float]:
        """The clip's probabilities, or the mean over the windows that have one."""
        if self.clip is not None:
            return dict(self.clip.probabilities)
        rows = [w.probabilities for w in self.timeline if w.probabilities]
        if not rows:
            return {}
        return {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}

    @property
    def label(self) -> str | None:
        p = self.probabilities
        return max(p, key=p.get) if p else None

    @property
    def flags(self) -> tuple[str, ...]:
        if self.clip is not None:
            return self.clip.flags
        found = [f for w in self.timeline for f in w.flags]
        return tuple(sorted(set(found), key=found.index))
