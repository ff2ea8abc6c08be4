"""Head-only training on cached embeddings against full end-to-end training, per variant, in
seconds per epoch of a CREMA-D-sized training set (7,442 clips), on this machine's CPU.

Head-only: a real embeddings store of 7,442 synthetic clips (face_emb 50x64, audio_emb 9x64,
written with the real store writer), loaded by avemo's head-training input pipeline; one warm-up
epoch pays graph tracing, then one full epoch over all 7,442 clips is timed. Full training: the
same variant end to end on CREMA-D-shaped clips (50x64x64x3 frames, 9x40x40 MFCC); a full epoch
on CPU takes ~15 min per variant, so one epoch over 64 clips is timed (after a warm-up epoch)
and scaled to 7,442 clips. Target: head-only >= 20x faster per epoch.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import CREMA_D_CLIPS, print_table, save  # noqa: E402
from avemo.features.writer import SourceInfo, StoreWriter  # noqa: E402
from avemo.training.config import VARIANTS  # noqa: E402


def clip_names(n: int) -> list[str]:
    """The first ``n`` of CREMA-D's real clip names (labels come from the names)."""
    from avemo.metadata import clip_names as crema_d_names

    return list(crema_d_names())[:n]


def make_embeddings(root: Path, clips: list[str], rng: np.random.Generator) -> None:
    from avemo.training.embed import MODALITY, embedding_specs

    with StoreWriter(root, MODALITY, {"backbone_sha256": "synthetic", "model_path": "none"},
                     embedding_specs(50, 9, 64), shard_size=1000) as w:
        for c in clips:
            w.add(c, {"face_emb": rng.random((50, 64), np.float32), "audio_emb": rng.random((9, 64), np.float32)},
                  SourceInfo(c, 1, "0"))


def _epoch_seconds(model, ds) -> float:
    t = time.perf_counter()
    model.fit(ds, epochs=1, verbose=0)
    return time.perf_counter() - t


def main(variants=VARIANTS, n_full: int = 64, batch: int = 16) -> list[dict]:
    import keras
    import tensorflow as tf

    from avemo.features import open_store
    from avemo.training import backend
    from avemo.names import parse_clip_name
    from avemo.training.data import HEAD_ONLY, load_split, tensor_dataset
    from avemo.training.models import build_head_model, build_model

    backend.setup(0)
    rng = np.random.default_rng(0)
    clips = clip_names(CREMA_D_CLIPS)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        make_embeddings(Path(tmp) / "emb", clips, rng)
        print(f"embeddings store of {len(clips)} clips written in {time.perf_counter() - t:.1f} s")
        with open_store(Path(tmp) / "emb") as reader:
            data = load_split({"embeddings": reader}, {c: parse_clip_name(c).label for c in clips}, "bench",
                              HEAD_ONLY)
        head_ds = tensor_dataset(data, batch, True, 0)
        faces = rng.integers(0, 255, (n_full, 50, 64, 64, 3), dtype=np.uint8)
        mfcc = rng.normal(size=(n_full, 9, 40, 40)).astype(np.float32)
        labels = rng.integers(0, 6, n_full).astype(np.int32)
        full_ds = tf.data.Dataset.from_tensor_slices(({"faces": faces, "mfcc": mfcc}, labels)).batch(batch)
        for v in variants:
            head = build_head_model(v)
            head.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
            head.fit(head_ds.take(4), epochs=1, verbose=0)  # warm-up: graph tracing
            t_head = _epoch_seconds(head, head_ds)
            full = build_model(v)
            full.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
            full.fit(full_ds, epochs=1, verbose=0)  # warm-up: graph tracing
            t_full = _epoch_seconds(full, full_ds) / n_full * CREMA_D_CLIPS
            rows.append({"metric": f"{v}: head-only epoch, 7,442 clips", "value": t_head, "unit": "s/epoch",
                         "baseline": t_full, "ratio": t_full / t_head,
                         "target": ">= 20x faster than full training"})
            print(f"{v}: head-only {t_head:.1f} s/epoch, full {t_full:.0f} s/epoch (projected)", flush=True)
    print_table(f"Head-only vs full training per epoch of {CREMA_D_CLIPS} clips on CPU, batch {batch}; "
                f"baseline: full end-to-end training of the same variant (one epoch of {n_full} clips, scaled); "
                "ratio = full / head-only", rows)
    print(f"\nsaved {save('heads', rows)}")
    return rows


if __name__ == "__main__":
    main(tuple(sys.argv[1:]) or VARIANTS)
