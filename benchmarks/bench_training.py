"""Training speed per variant on CPU, and the input pipeline against in-memory numpy feeding.

One synthetic store of CREMA-D-shaped clips (50x64x64x3 uint8 frames, 9x40x40 MFCC) is
written with the real store writer; each variant is then trained for one epoch (after a
warm-up epoch that pays graph tracing) fed (a) by avemo's tf.data pipeline from the store and
(b) by the same arrays passed to ``model.fit`` as numpy. Target: (a) >= 0.9x of (b).
Also per variant: seconds per epoch, and the input pipeline's share of an epoch (one pass over
the tf.data pipeline alone, no model, against the training epoch it feeds).

On a GPU machine, for the README's GPU figures (a CREMA-D-sized store: ~5 GB on disk and in
memory): ``python benchmarks/bench_training.py --clips 7442``.
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

from benchmarks.common import print_table, save  # noqa: E402
from avemo.features.schema import face_specs, mfcc_specs  # noqa: E402
from avemo.features.writer import SourceInfo, StoreWriter  # noqa: E402
from avemo.training.config import VARIANTS  # noqa: E402

EMOS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")


def make_store(root: Path, n: int, rng: np.random.Generator) -> list[str]:
    clips = [f"{1001 + i // 6}_DFA_{EMOS[i % 6]}_XX" for i in range(n)]
    with StoreWriter(root / "faces", "faces", {}, face_specs(50, 64)) as wf, \
            StoreWriter(root / "mfcc", "mfcc", {}, mfcc_specs((9, 40, 40))) as wm:
        for c in clips:
            wf.add(c, {"frames": rng.integers(0, 255, (50, 64, 64, 3), dtype=np.uint8),
                       "boxes": np.zeros((50, 4), np.float32), "detected": np.ones(50, bool)},
                   SourceInfo(c, 1, "0"))
            wm.add(c, {"mfcc": rng.normal(size=(9, 40, 40)).astype(np.float32)}, SourceInfo(c, 1, "0"))
    return clips


def device_name() -> str:
    """The GPU's name when TensorFlow sees one, else "CPU"."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return f"CPU, {os.cpu_count()} cores,"
    details = tf.config.experimental.get_device_details(gpus[0])
    return f"{len(gpus)} x {details.get('device_name', 'GPU')}"


def main(n: int = 48, batch: int = 16, variants=VARIANTS, repeat: int = 3) -> list[dict]:
    import keras

    from avemo.training.data import load_split, open_stores, tensor_dataset
    from avemo.training.models import build_model
    from avemo.training.train import setup_tensorflow

    setup_tensorflow(0)
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = make_store(Path(tmp), n, rng)
        readers = open_stores(tmp)
        t = time.perf_counter()
        data = load_split(readers, clips, "bench")
        load_ms = (time.perf_counter() - t) / n * 1e3
        rows.append({"metric": "load a split from the store, per clip", "value": load_ms, "unit": "ms",
                     "baseline": None, "ratio": None, "target": ""})
        x = data.inputs
        for v in variants:
            model = build_model(v)
            model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
            ds = tensor_dataset(data, batch, True, 0)
            model.fit(ds, epochs=1, verbose=0)  # warm-up: graph tracing
            model.fit(x, data.labels, batch_size=batch, epochs=1, verbose=0, shuffle=True)
            t_pipe = t_np = t_data = float("inf")
            for _ in range(repeat):  # interleaved, best of `repeat`: the least disturbed epoch of each
                t = time.perf_counter()
                model.fit(ds, epochs=1, verbose=0)
                t_pipe = min(t_pipe, time.perf_counter() - t)
                t = time.perf_counter()
                model.fit(x, data.labels, batch_size=batch, epochs=1, verbose=0, shuffle=True)
                t_np = min(t_np, time.perf_counter() - t)
                t = time.perf_counter()
                for _batch in ds:  # the input pipeline alone
                    pass
                t_data = min(t_data, time.perf_counter() - t)
            rows.append({"metric": f"train {v}: avemo tf.data pipeline", "value": t_pipe / n * 1e3,
                         "unit": "ms/clip", "baseline": t_np / n * 1e3, "ratio": t_np / t_pipe,
                         "target": ">= 0.9 (throughput vs numpy)"})
            rows.append({"metric": f"train {v}: one epoch of {n} clips", "value": t_pipe, "unit": "s",
                         "baseline": None, "ratio": None, "target": ""})
            rows.append({"metric": f"train {v}: input pipeline alone, share of epoch", "value": t_data,
                         "unit": "s", "baseline": t_pipe, "ratio": t_data / t_pipe, "target": "share"})
    print_table(f"Training on {device_name()} ({n} CREMA-D-shaped clips, batch {batch}); baseline: the same "
                "model fed numpy arrays, same run; ratio = pipeline throughput / numpy throughput", rows)
    print(f"\nsaved {save('training', rows)}")
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=48, help="clips in the synthetic store (CREMA-D: 7442)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--repeat", type=int, default=3, help="timed epochs per variant (best is kept)")
    args = parser.parse_args()
    main(args.clips, variants=args.variants, repeat=args.repeat)
