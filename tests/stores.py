"""A tiny learnable two-modality store written with the real store writer (for trainer tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from avemo.features.schema import face_specs, mfcc_specs
from avemo.features.writer import SourceInfo, StoreWriter
from avemo.pipeline.config import SplitConfig
from avemo.pipeline.corpus_cremad import row_of
from avemo.pipeline.split import make_split
from avemo.splits import write_splits

EMOS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")
FACE_SHAPE = (8, 32, 32, 3)


def clip_arrays(label: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Learnable synthetic features: the class shifts face brightness and one MFCC band."""
    faces = rng.integers(0, 60, FACE_SHAPE).astype(np.uint8) + np.uint8(30 * label)
    mfcc = rng.normal(0, 1, (9, 40, 40)).astype(np.float32)
    mfcc[:, :, label * 5:(label + 1) * 5] += 3.0
    return faces, mfcc


def write_tiny_store(root: Path, actors: int = 12, seed: int = 0) -> tuple[Path, Path]:
    """``root/store/{faces,mfcc}`` of ``actors`` x 6 clips, and ``root/splits.json`` (2 test and
    2 validation actors) -> (store root, splits file)."""
    rng = np.random.default_rng(seed)
    clips = [f"{1001 + a}_DFA_{e}_XX" for a in range(actors) for e in EMOS]
    with StoreWriter(root / "store" / "faces", "faces", {"synthetic": True}, face_specs(8, 32)) as wf, \
            StoreWriter(root / "store" / "mfcc", "mfcc", {"synthetic": True}, mfcc_specs((9, 40, 40))) as wm:
        for c in clips:
            f, m = clip_arrays(EMOS.index(c.split("_")[2]), rng)
            wf.add(c, {"frames": f, "boxes": np.zeros((8, 4), np.float32), "detected": np.ones(8, bool),
                    "located": np.full(8, 3, np.uint8)},
                   SourceInfo(c, 1, "0"))
            wm.add(c, {"mfcc": m}, SourceInfo(c, 1, "0"))
    rows = [row_of(c) for c in clips]
    splits = write_splits(make_split(rows, SplitConfig(test_actors=2, val_actors=2, stratify="none")),
                          root / "splits.json")
    return root / "store", splits


def crema_d_split_doc(test_clips: list[str]) -> dict:
    """A split record (format 2) whose test split is ``test_clips`` (CREMA-D names; labels and
    speakers recorded as the split stage records them), train and val empty."""
    empty = {"actors": [], "clips": [], "labels": [], "speakers": []}
    test = {"actors": sorted({c[:4] for c in test_clips}), "clips": list(test_clips),
            "labels": [EMOS.index(c.split("_")[2]) for c in test_clips], "speakers": [c[:4] for c in test_clips]}
    return {"format": 2, "corpus": "crema-d", "labels": list(EMOS), "splits": {"train": empty, "val": empty, "test": test}}


def small_stores(corpus: Path, root: Path) -> tuple[Path, Path]:
    """A CREMA-D-shaped corpus' manifest, faces (8 frames of 32x32) and MFCC stores under
    ``root/store``, and a split with 1 test and 1 validation actor -> (manifest, splits file)."""
    from avemo.pipeline.config import FaceConfig, MfccConfig
    from avemo.pipeline.corpora import scan_corpus
    from avemo.pipeline.extract import FaceExtractor, MfccExtractor, run_extraction
    from avemo.pipeline.manifest import read_manifest, write_manifest

    manifest, _ = write_manifest(scan_corpus(corpus), corpus, root / "manifest.csv")
    rows = read_manifest(manifest)
    run_extraction(rows, root / "store" / "faces", FaceExtractor(FaceConfig(n_frames=8, size=32)), progress=False)
    run_extraction(rows, root / "store" / "mfcc", MfccExtractor(MfccConfig()), progress=False)
    return manifest, write_splits(make_split(rows, SplitConfig(test_actors=1, val_actors=1)), root / "splits.json")
