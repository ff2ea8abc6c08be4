"""A trained model and everything needed to feed it: the label set, the face and MFCC params
(with the algorithm versions) its stores were extracted with, read from its sidecar. Features
are computed by the extraction stages' own per-clip functions with exactly those params."""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

from avemo.errors import MediaError, ModelError, NoFaceError
from avemo.pipeline import audio, faces
from avemo.pipeline.config import FaceConfig, MfccConfig
from avemo.pipeline.extract import FaceExtractor, MfccExtractor
from avemo.pipeline.media import probe_duration
from avemo.predict.config import PredictConfig
from avemo.predict.results import ClipResult, FileResult, WindowResult
from avemo.predict.windows import (AUDIO_BESIDE, FACE_LOST, NO_FACE, SILENT, face_share, plan_windows,
                                   window_features)
from avemo.training import backend
from avemo.training.data import inputs_of
from avemo.training.models import load_model

RETRAIN = "retrain it with this avemo (`dvc repro`, or `avemo train`) and predict with the new model"


@dataclass(frozen=True)
class ModelInfo:
    """What a model's sidecar says about its inputs and outputs."""

    path: str
    variant: str
    labels: tuple[str, ...]
    corpus: str
    inputs: tuple[str, ...]
    face: FaceConfig | None
    mfcc: MfccConfig | None


def _config(cls, params: dict, version: int, what: str, model: Path):
    found = params.get("algorithm")
    if found != version:
        raise ModelError(f"{model} was trained on {what} of algorithm version {found}; this avemo computes version "
                         f"{version}, so its features would differ from the training ones: {RETRAIN}")
    known = {f.name for f in fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in params.items() if k in known})


def read_model_info(model_path: str | Path, inputs: tuple[str, ...] = ("faces", "mfcc")) -> ModelInfo:
    """The sidecar (``V.keras`` -> ``V.json``; a head-only model's backbone sidecar for the store
    params) as :class:`ModelInfo`; ModelError saying how to retrain a model that lacks any of it."""
    model_path = Path(model_path)
    sidecar = model_path.with_suffix(".json")
    try:
        doc = json.loads(sidecar.read_text())
    except (OSError, ValueError) as exc:
        raise ModelError(f"{model_path}: its sidecar {sidecar} cannot be read ({exc}); predict needs it (label set, "
                         f"feature params): {RETRAIN}") from exc
    store_params = doc.get("store_params")
    if doc.get("mode") == "heads" and not store_params:  # the backbone's sidecar knows the stores
        backbone = Path(doc.get("backbone", ""))
        try:
            store_params = json.loads(backbone.with_suffix(".json").read_text()).get("store_params")
        except (OSError, ValueError):
            store_params = None
    lacking = [what for what, ok in (("the label set", doc.get("labels")), ("the feature params", store_params))
               if not ok]
    if lacking:
        raise ModelError(f"{model_path} does not record {' and '.join(lacking)} it was trained with (a model made "
                         f"before avemo recorded them in its sidecar {sidecar.name}): {RETRAIN}")
    if doc.get("normalise") == "speaker":
        raise ModelError(f"{model_path} was trained with train.normalise: speaker (each speaker's MFCCs standardised "
                         "with that speaker's statistics over all of its clips): one recording alone has no speaker "
                         "statistics to predict with. Predict with a model trained with train.normalise: split")
    face = _config(FaceConfig, store_params["faces"], faces.ALGORITHM_VERSION, "face crops", model_path) \
        if "faces" in inputs else None
    mfcc = _config(MfccConfig, store_params["mfcc"], audio.ALGORITHM_VERSION, "MFCCs", model_path) \
        if "mfcc" in inputs else None
    return ModelInfo(str(model_path), str(doc.get("variant", "")), tuple(doc["labels"]), str(doc.get("corpus", "")),
                     inputs, face, mfcc)


class Predictor:
    """A model loaded once, predicting files (or arrays). Files up to ``config.window`` seconds
    are one clip, their features made exactly as the extraction stages make a store's; longer
    ones are cut into windows (:mod:`avemo.predict.windows`)."""

    def __init__(self, model_path: str | Path, config: PredictConfig = PredictConfig()):
        self.model = load_model(model_path)
        names = tuple(inputs_of(self.model))
        self.info = read_model_info(model_path, names)
        self.config = config
        self.faces = FaceExtractor(self.info.face) if self.info.face else None
        self.mfcc = MfccExtractor(self.info.mfcc) if self.info.mfcc else None

    @property
    def labels(self) -> tuple[str, ...]:
        return self.info.labels

    def predict_arrays(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Class probabilities (N, labels) of a batch of model inputs, as ``avemo evaluate``
        computes them (eager calls of ``config.batch_size`` clips)."""
        n = len(next(iter(inputs.values())))
        b = self.config.batch_size
        return np.concatenate([backend.to_numpy(self.model({k: a[i:i + b] for k, a in inputs.items()}, training=False))
                               for i in range(0, n, b)])

    def _audio_source(self, video: Path, audio_file: Path | None) -> Path:
        if audio_file is not None:
            return audio_file
        beside = next((video.with_suffix(ext) for ext in AUDIO_BESIDE if video.with_suffix(ext).is_file()), None)
        return beside or video

    def clip_features(self, video: Path, audio_file: Path | None = None,
                      silent_audio: bool = False) -> tuple[dict[str, np.ndarray] | None, float | None, tuple[str, ...]]:
        """One clip's model inputs (None when the model cannot be given them: no face), the face
        share and flags; MediaError for a file without audio unless ``silent_audio``."""
        inputs, share, flags = {}, None, []
        if self.mfcc is not None:
            try:
                inputs["mfcc"] = self.mfcc.process(self._audio_source(video, audio_file))["mfcc"]
            except MediaError as exc:
                if exc.kind != "no audio track" or not silent_audio:
                    raise
                inputs["mfcc"] = audio.mfcc_windows(np.zeros(1, np.float32), self.info.mfcc)
                flags.append(SILENT)
        if self.faces is not None:
            try:
                arrays = self.faces.process(video)
            except NoFaceError:
                return None, 0.0, (*flags, NO_FACE)
            inputs["faces"] = arrays["frames"]
            share = face_share(arrays["located"])
            if share < 1:
                flags.append(FACE_LOST)
        return inputs, share, tuple(flags)

    def _probabilities(self, inputs: dict[str, np.ndarray]) -> dict[str, float]:
        p = self.predict_arrays({k: v[None] for k, v in inputs.items()})[0]
        return {label: float(x) for label, x in zip(self.labels, p)}

    def predict(self, video: str | Path, audio_file: str | Path | None = None,
                silent_audio: bool = False) -> FileResult:
        """Predict one file: one clip when it lasts at most ``config.window`` s, else a timeline of
        windows. Errors of this file (unreadable, no audio) are raised as MediaError."""
        video = Path(video)
        duration = probe_duration(video)
        audio_file = Path(audio_file) if audio_file else None
        if duration <= self.config.window:
            inputs, share, flags = self.clip_features(video, audio_file, silent_audio)
            probs = self._probabilities(inputs) if inputs is not None else {}
            return FileResult(str(video), duration, ClipResult(probs, share, flags))
        timeline: list[WindowResult] = []
        batch: list[tuple[int, dict]] = []

        def flush() -> None:
            if batch:
                probs = self.predict_arrays({k: np.stack([x[k] for _, x in batch]) for k in batch[0][1]})
                for (i, _), p in zip(batch, probs):
                    w = timeline[i]
                    timeline[i] = WindowResult({label: float(x) for label, x in zip(self.labels, p)},
                                               w.face_share, w.flags, w.start, w.end)
                batch.clear()

        windows = plan_windows(duration, self.config.window, self.config.hop)
        for window, inputs, share, flags in window_features(video, self._audio_source(video, audio_file), windows,
                                                            self.info.face, self.info.mfcc, silent_audio):
            timeline.append(WindowResult({}, share, flags, window.start, window.end))
            if inputs is not None:
                batch.append((len(timeline) - 1, inputs))
            if len(batch) >= self.config.batch_size:
                flush()
        flush()
        return FileResult(str(video), duration, None, timeline)
