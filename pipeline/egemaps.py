"""The classical baseline's features: openSMILE's eGeMAPS functionals of one clip's audio.

openSMILE (audEERING's ``opensmile`` package) is licensed for research and education only: it is
the optional extra ``avemo[egemaps]`` (README, licences), imported only when this stage runs.
"""

from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache

import numpy as np

from avemo.errors import ConfigError, MediaError

#: Bumped whenever stored eGeMAPS features change for the same params.
ALGORITHM_VERSION = 1
INSTALL = "pip install 'avemo[egemaps]' (openSMILE: research and education licence, see the README)"


def opensmile_version() -> str:
    """The installed openSMILE package's version (part of the store's params); ConfigError when absent."""
    try:
        import opensmile
    except ImportError:
        raise ConfigError(f"the eGeMAPS baseline needs openSMILE's Python package: {INSTALL}") from None
    return str(opensmile.__version__)


@lru_cache(maxsize=4)
def _smile(feature_set: str):
    opensmile_version()  # the one-line message when the extra is not installed
    import opensmile

    return opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, feature_set),
                           feature_level=opensmile.FeatureLevel.Functionals)


def feature_names(feature_set: str = "eGeMAPSv02") -> list[str]:
    """The names of the set's functionals, in stored order."""
    return list(_smile(feature_set).feature_names)


def _functionals(y: np.ndarray, sr: int, feature_set: str) -> np.ndarray:
    return _smile(feature_set).process_signal(np.asarray(y, np.float32), sr).to_numpy()[0]


@lru_cache(maxsize=1)
def _isolated() -> ProcessPoolExecutor:
    """One fresh (spawned) process for openSMILE, kept for the rest of this one."""
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


def egemaps(y: np.ndarray, sr: int, feature_set: str = "eGeMAPSv02") -> np.ndarray:
    """The functionals of mono samples ``y`` at ``sr`` Hz -> [shape=(88,)] float32 (eGeMAPSv02),
    exactly ``opensmile.Smile(feature_set, Functionals).process_signal(y, sr)``.

    openSMILE's native library corrupts the heap of a process that has loaded TensorFlow
    (``malloc(): invalid size``, then an abort; measured with TensorFlow 2.21, openSMILE 2.6):
    where TensorFlow is loaded (a notebook, one test process) the call runs in a spawned
    process of its own instead. The pipeline's extraction never loads TensorFlow."""
    if y.size < sr // 10:
        raise MediaError(f"audio of {y.size / sr:.3f} s is too short for eGeMAPS functionals (at least 0.1 s)")
    if "tensorflow" in sys.modules:
        out = _isolated().submit(_functionals, y, sr, feature_set).result()
    else:
        out = _functionals(y, sr, feature_set)
    if not np.all(np.isfinite(out)):
        raise MediaError("eGeMAPS functionals hold NaN or infinite values (silent or broken audio?)")
    return out.astype(np.float32)
