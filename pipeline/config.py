"""The pipeline stages' typed, frozen configs, built once from their ``params.yaml`` sections
(:func:`avemo.params.section`; CLI flags override)."""

from __future__ import annotations

from dataclasses import dataclass, field

from avemo.errors import ConfigError
from avemo.params import require_positive

#: ``faces.strategy`` and ``faces.detector`` names: the one list of them (the registries of
#: :mod:`avemo.pipeline.locate` and :mod:`avemo.pipeline.detectors` are keyed by these, checked
#: at import).
FACE_STRATEGIES = ("track", "keyframes", "every")
#: ``corpus.kind`` names: the one list of them (the registry of :mod:`avemo.pipeline.corpora`
#: is keyed by these, checked at import).
CORPUS_KINDS = ("crema-d", "ravdess", "labels-csv", "emodb", "tess")
#: ``corpus.ravdess_files`` choices: RAVDESS' audio-visual files, its video-only files each
#: paired with the audio-only WAV of the same recording, its audio-only files alone (speech), or
#: auto (the first of these the folder holds).
RAVDESS_FILES = ("auto", "av", "video+wav", "audio")
FACE_DETECTORS = ("hog", "cnn")
BROKEN_CLIPS = ("1076_MTI_NEU_XX", "1076_MTI_SAD_XX", "1064_TIE_SAD_XX", "1064_IEO_DIS_MD")


@dataclass(frozen=True)
class CorpusConfig:
    """Which corpus: its folder, its kind (a plug-in of :mod:`avemo.pipeline.corpora`), the label
    set its clips are put in and how their own labels map onto it, and the kind's options."""

    root: str = "data/demo"
    kind: str = "crema-d"
    #: The label set, in class-index order; () = the kind's own labels.
    labels: tuple[str, ...] = ()
    #: A clip's own label -> its label in ``labels`` (absent: the same name). A label with no
    #: image in ``labels`` sends the clip to the rejected file with that reason.
    label_map: dict = field(default_factory=dict)
    #: ravdess: vocal channels to keep (speech, song).
    ravdess_channels: tuple[str, ...] = ("speech",)
    #: ravdess: av (the audio-visual files), video+wav (video-only files with their audio-only
    #: WAV), audio (the audio-only files: a speech corpus) or auto (av, else video+wav, else audio).
    ravdess_files: str = "auto"
    #: labels-csv: the CSV of ``path,label,speaker[,sex]`` (relative to ``root``).
    labels_csv: str = "labels.csv"

    def validate(self, name: str = "corpus") -> None:
        if self.kind not in CORPUS_KINDS:
            raise ConfigError(f"{name}.kind must be one of {', '.join(CORPUS_KINDS)}, got {self.kind!r}")
        if not isinstance(self.label_map, dict):
            raise ConfigError(f"{name}.label_map must be a mapping of label -> label, got {self.label_map!r}")
        if len(set(self.labels)) != len(self.labels):
            raise ConfigError(f"{name}.labels lists a label twice: {list(self.labels)}")
        bad = sorted(set(self.ravdess_channels) - {"speech", "song"})
        if bad or not self.ravdess_channels:
            raise ConfigError(f"{name}.ravdess_channels must list speech and/or song, got {list(self.ravdess_channels)}")
        if self.ravdess_files not in RAVDESS_FILES:
            raise ConfigError(f"{name}.ravdess_files must be one of {', '.join(RAVDESS_FILES)}, "
                              f"got {self.ravdess_files!r}")


@dataclass(frozen=True)
class ManifestConfig:
    """Manifest scan options: clips excluded by name (CREMA-D's documented broken clips)."""

    exclude: tuple[str, ...] = BROKEN_CLIPS


@dataclass(frozen=True)
class SplitConfig:
    """Actor-disjoint split: actor counts for test and validation (``auto``: the corpus kind's
    own, scaled to its actors), seed, stratification."""

    test_actors: int | str = "auto"
    val_actors: int | str = "auto"
    seed: int = 0
    stratify: str = "sex"

    def validate(self, name: str = "split") -> None:
        for key in ("test_actors", "val_actors"):
            if getattr(self, key) != "auto":
                require_positive(key, name, getattr(self, key))
        if self.stratify not in ("sex", "none"):
            raise ConfigError(f"{name}.stratify must be 'sex' or 'none', got {self.stratify!r}")


@dataclass(frozen=True)
class DemoConfig:
    """The demo corpus: pseudo-actors built from the six real clips."""

    actors: int = 30
    seed: int = 0

    def validate(self, name: str = "demo") -> None:
        require_positive("actors", name, self.actors)
        if self.actors > 91:
            raise ConfigError(f"{name}.actors must be at most 91 (CREMA-D actor ids), got {self.actors}")


#: ``egemaps.feature_set`` names: openSMILE's parameter sets of the Geneva Minimalistic Acoustic
#: Parameter Set (Eyben et al. 2016), functionals per clip (eGeMAPSv02: 88 features).
EGEMAPS_SETS = ("eGeMAPSv02", "GeMAPSv01b")


@dataclass(frozen=True)
class EgemapsConfig:
    """The classical baseline's features: openSMILE's eGeMAPS functionals of the clip's audio at
    ``sr`` Hz mono (the whole clip, not padded or cut)."""

    feature_set: str = "eGeMAPSv02"
    sr: int = 16000

    def validate(self, name: str = "egemaps") -> None:
        if self.feature_set not in EGEMAPS_SETS:
            raise ConfigError(f"{name}.feature_set must be one of {', '.join(EGEMAPS_SETS)}, got {self.feature_set!r}")
        require_positive("sr", name, self.sr)


@dataclass(frozen=True)
class MfccConfig:
    """The paper's MFCC windows (docs/architecture.md): every field changes the stored features."""

    sr: int = 22050
    n_mfcc: int = 40
    n_fft: int = 2048
    hop_length: int = 512
    duration: float = 5.0
    window: int = 40
    step: int = 20

    def validate(self, name: str = "mfcc") -> None:
        for key in ("sr", "n_mfcc", "n_fft", "hop_length", "window", "step"):
            require_positive(key, name, getattr(self, key))
        if not isinstance(self.duration, (int, float)) or self.duration <= 0:
            raise ConfigError(f"{name}.duration must be a positive number of seconds, got {self.duration!r}")
        if self.n_windows < 1:
            raise ConfigError(f"{name}: window {self.window} is longer than the {self.n_frames} "
                              f"MFCC frames of {self.duration} s")

    @property
    def n_samples(self) -> int:
        return int(round(self.duration * self.sr))

    @property
    def n_frames(self) -> int:
        """MFCC frames of a padded clip (librosa centres frames: 1 + samples // hop)."""
        return 1 + self.n_samples // self.hop_length

    @property
    def n_windows(self) -> int:
        return (self.n_frames - self.window) // self.step + 1 if self.n_frames >= self.window else 0

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.n_windows, self.window, self.n_mfcc)


@dataclass(frozen=True)
class FaceConfig:
    """Face crops (docs/architecture.md): every field changes the stored tensors."""

    n_frames: int = 50
    size: int = 64
    margin: float = 0.15
    detector: str = "hog"
    upsample: int = 0
    strategy: str = "track"
    keyframes: int = 2
    roi_margin: float = 0.5
    #: ``track``: a frame found by template tracking is kept when its normalised
    #: cross-correlation with the detected face is at least this; else it gets a detection.
    track_ncc: float = 0.7
    #: ``track``: every this-many-th sampled frame is tracked, ...
    track_step: int = 2
    #: ... and every frame between two of them whose boxes differ by more than this (face sizes).
    refine: float = 0.04
    #: ``track``: tracked boxes sit on the detector's own position grid (HOG: 8-px cells), where
    #: per-frame detection would put them; false: sub-pixel positions (smoother, less like dlib's).
    snap: bool = True
    smooth: int = 1
    #: Rotate each crop so that the eyes are level (68-point landmarks; needs face-recognition-models).
    align: bool = False

    def validate(self, name: str = "faces") -> None:
        for key in ("n_frames", "size", "keyframes", "smooth", "track_step"):
            require_positive(key, name, getattr(self, key))
        if self.detector not in FACE_DETECTORS:
            raise ConfigError(f"{name}.detector must be one of {', '.join(FACE_DETECTORS)}, got {self.detector!r}")
        if self.strategy not in FACE_STRATEGIES:
            raise ConfigError(f"{name}.strategy must be one of {', '.join(FACE_STRATEGIES)}, got {self.strategy!r}")
        if not 0 <= self.margin <= 2 or not 0.1 <= self.roi_margin <= 3:
            raise ConfigError(f"{name}.margin must be in [0, 2] and roi_margin in [0.1, 3], "
                              f"got {self.margin}, {self.roi_margin}")
        if not 0 <= self.track_ncc <= 1:
            raise ConfigError(f"{name}.track_ncc must be in [0, 1] (1: a detection on every keyframe), "
                              f"got {self.track_ncc}")
        if not isinstance(self.refine, (int, float)) or not 0 <= self.refine <= 1:
            raise ConfigError(f"{name}.refine must be in [0, 1] face sizes (0: locate every frame "
                              f"where the face moved at all), got {self.refine!r}")
        for key in ("align", "snap"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError(f"{name}.{key} must be true or false, got {getattr(self, key)!r}")
        if self.upsample not in (0, 1, 2):
            raise ConfigError(f"{name}.upsample must be 0, 1 or 2, got {self.upsample}")
