"""Typed exceptions: every message names the parameter or file at fault and what to do."""


class AvemoError(Exception):
    """Base class of every error avemo raises on purpose."""


class ConfigError(AvemoError):
    """A params.yaml section or CLI value is missing, unknown or out of range."""


class ClipNameError(AvemoError):
    """A file name is not a CREMA-D clip name (AAAA_SSS_EEE_LL)."""


class CorpusError(AvemoError):
    """The corpus folder is missing, empty or not CREMA-D-shaped."""


class LfsPointerError(CorpusError):
    """The corpus holds Git LFS pointer files instead of media (cloned without git-lfs)."""


class SplitError(AvemoError):
    """A split cannot be made (too few actors) or a split file cannot be read."""


class MediaError(AvemoError):
    """A media file cannot be decoded, has no audio/video stream, or is empty.

    ``kind`` is a short category for failure reports ("missing file", "empty file",
    "no audio track", "undecodable", "no face", ...).
    """

    def __init__(self, message: str, kind: str = "undecodable"):
        super().__init__(message)
        self.kind = kind


class NoFaceError(MediaError):
    """No face was detected in any sampled frame of a clip."""

    def __init__(self, message: str):
        super().__init__(message, kind="no face")


class StoreError(AvemoError):
    """A feature store is missing, broken, or was written with other params."""


class StoreParamsError(StoreError):
    """An existing store was written with different stage params."""


class StoreWriteError(StoreError):
    """The system refused a write to a store (typically a full disk). What was published before
    stays valid; re-running resumes."""


class StoreLockedError(StoreError):
    """Another process is writing the store (it holds the store's writer lock)."""


class ModelError(AvemoError):
    """A trained model cannot be used as asked: its sidecar lacks what predict needs (label set,
    feature params), or its features were made by another algorithm version."""
