"""Shared fixtures: the real CREMA-D clips, a seeded rng, small generated corpora."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

DATA = Path(__file__).parent / "data" / "crema-d"
EMOS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def crema_dir() -> Path:
    """The six real CREMA-D clips (actor 1001, sentence DFA), FLV + WAV."""
    return DATA


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def real_corpus(tmp_path, crema_dir) -> Path:
    """A writable copy of the real clips in CREMA-D layout."""
    root = tmp_path / "crema"
    shutil.copytree(crema_dir / "VideoFlash", root / "VideoFlash")
    shutil.copytree(crema_dir / "AudioWAV", root / "AudioWAV")
    return root


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory, crema_dir) -> Path:
    """A small demo corpus (4 pseudo-actors x 6 emotions) built once per test session."""
    from avemo.pipeline.config import DemoConfig
    from avemo.pipeline.demo import build_demo_corpus

    out = tmp_path_factory.mktemp("demo") / "corpus"
    build_demo_corpus(crema_dir, out, DemoConfig(actors=4, seed=0), progress=False)
    return out
