"""Training speed per variant on any Keras 3 backend, and the input pipeline against numpy feeding.

One synthetic store of CREMA-D-shaped clips (50x64x64x3 uint8 frames, 9x40x40 MFCC) is
written with the real store writer and loaded with the trainer's own input pipeline. For each
variant: a warm-up call (compilation: graph tracing under TensorFlow, XLA under JAX), then
``--steps`` training steps timed (a) fed by avemo's pipeline (tf.data under TensorFlow, a
Keras PyDataset under JAX and PyTorch) and (b) fed the same arrays as numpy; target: (a) >= 0.9x
of (b); (c) the same batches streamed from the shards, against (b). Also per variant: seconds
per epoch of ``--clips`` clips (steps x time per step), the compile time, and the input
pipeline's share (the same batches produced with no model).

GPU figures for the README (a CREMA-D-sized store: ~5 GB on disk and in memory):
``python benchmarks/bench_training.py --backend jax --clips 7442 --steps 100 --repeat 1``.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from benchmarks.common import best_of, print_table, save  # noqa: E402
from avemo.features.schema import face_specs, mfcc_specs  # noqa: E402
from avemo.features.writer import SourceInfo, StoreWriter  # noqa: E402
from avemo.training.config import VARIANTS  # noqa: E402

EMOS = ("ANG", "DIS", "FEA", "HAP", "NEU", "SAD")


def clip_names(n: int) -> list[str]:
    """``n`` distinct valid CREMA-D names (91 actors x 12 sentences x 4 levels x 6 emotions)."""
    sentences = ("DFA", "IEO", "IOM", "ITH", "ITS", "IWL", "IWW", "MTI", "TAI", "TIE", "TSI", "WSI")
    if n > 6 * 91 * 12 * 4:
        raise SystemExit(f"--clips {n}: at most {6 * 91 * 12 * 4} synthetic clips")
    return [f"{1001 + (i // 6) % 91}_{sentences[(i // 546) % 12]}_{EMOS[i % 6]}_{('XX', 'LO', 'MD', 'HI')[i // 6552]}"
            for i in range(n)]


def make_store(root: Path, n: int, rng: np.random.Generator) -> list[str]:
    clips = clip_names(n)
    with StoreWriter(root / "faces", "faces", {}, face_specs(50, 64)) as wf, \
            StoreWriter(root / "mfcc", "mfcc", {}, mfcc_specs((9, 40, 40))) as wm:
        for c in clips:
            wf.add(c, {"frames": rng.integers(0, 255, (50, 64, 64, 3), dtype=np.uint8),
                       "boxes": np.zeros((50, 4), np.float32), "detected": np.ones(50, bool),
                       "located": np.full(50, 3, np.uint8)},
                   SourceInfo(c, 1, "0"))
            wm.add(c, {"mfcc": rng.normal(size=(9, 40, 40)).astype(np.float32)}, SourceInfo(c, 1, "0"))
    return clips


def main(n: int = 48, batch: int = 16, variants=VARIANTS, repeat: int = 3, steps: int = 0) -> list[dict]:
    """``steps`` timed steps per variant (0: one epoch of ``n`` clips)."""
    import keras

    from avemo.training import backend
    from avemo.names import parse_clip_name
    from avemo.training.data import SplitData, load_split, open_stores, streaming_dataset, tensor_dataset
    from avemo.training.models import build_model

    backend.setup(0)
    epoch_steps = math.ceil(n / batch)
    steps = min(steps or epoch_steps, n // batch)
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        clips = make_store(Path(tmp), n, rng)
        write_s = time.perf_counter() - t
        readers = open_stores(tmp)
        t = time.perf_counter()
        data = load_split(readers, {c: parse_clip_name(c).label for c in clips}, "bench")
        load_ms = (time.perf_counter() - t) / n * 1e3
        rows.append({"metric": "load a split from the store, per clip", "value": load_ms, "unit": "ms",
                     "baseline": None, "ratio": None, "target": ""})
        print(f"store of {n} clips written in {write_s:.1f} s, loaded in {load_ms * n / 1e3:.1f} s", flush=True)
        k = steps * batch
        part = SplitData(data.clip_ids[:k], data.labels[:k], [], {a: x[:k] for a, x in data.inputs.items()})
        x, y = part.inputs, part.labels
        warm = SplitData(part.clip_ids[:2 * batch], y[:2 * batch], [], {a: v[:2 * batch] for a, v in x.items()})
        for v in variants:
            model = build_model(v)
            model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
            ds = tensor_dataset(part, batch, True, 0)
            streamed = streaming_dataset(readers, part, batch, True, 0)  # the same batches, from the shards
            warm_ds = tensor_dataset(warm, batch, False, 0)
            t = time.perf_counter()
            model.fit(warm_ds, epochs=1, verbose=0)  # compiles the train step
            t_warm = time.perf_counter() - t
            t = time.perf_counter()
            model.evaluate(warm_ds, verbose=0)  # compiles the test step (validation, evaluation)
            t_warm_eval = time.perf_counter() - t
            model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True)  # warm the numpy path too
            t_pipe = best_of(lambda: model.fit(ds, epochs=1, verbose=0), repeat)
            t_eval = best_of(lambda: model.evaluate(ds, verbose=0), repeat)
            t_np = best_of(lambda: model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=True), repeat)
            t_stream = best_of(lambda: model.fit(streamed, epochs=1, verbose=0), repeat)
            t_data = best_of(lambda: [None for _b in ds], repeat)  # the input pipeline alone
            step = t_pipe / steps
            rows += [
                {"metric": f"{v}: one epoch of {n} clips ({epoch_steps} steps)", "value": step * epoch_steps,
                 "unit": "s", "baseline": None, "ratio": None, "target": ""},
                {"metric": f"{v}: per clip and step", "value": step / batch * 1e3, "unit": "ms",
                 "baseline": None, "ratio": None, "target": ""},
                {"metric": f"{v}: compile (first call, 2 steps, less 2 steps)", "value": t_warm - 2 * step,
                 "unit": "s", "baseline": None, "ratio": None, "target": ""},
                {"metric": f"{v}: evaluation pass, per clip (forward only)", "value": t_eval / k * 1e3,
                 "unit": "ms", "baseline": step / batch * 1e3, "ratio": t_eval / t_pipe, "target": "share of a train step"},
                {"metric": f"{v}: compile of the evaluation step", "value": t_warm_eval - 2 * t_eval / steps,
                 "unit": "s", "baseline": None, "ratio": None, "target": ""},
                {"metric": f"{v}: avemo input pipeline vs numpy feeding", "value": t_pipe, "unit": "s",
                 "baseline": t_np, "ratio": t_np / t_pipe, "target": ">= 0.9 (throughput vs numpy)"},
                {"metric": f"{v}: streamed from the shards vs numpy feeding", "value": t_stream, "unit": "s",
                 "baseline": t_np, "ratio": t_np / t_stream, "target": "throughput vs numpy"},
                {"metric": f"{v}: input pipeline alone, share of the steps", "value": t_data, "unit": "s",
                 "baseline": t_pipe, "ratio": t_data / t_pipe, "target": "share"},
            ]
            print(f"{v}: {step * epoch_steps:.1f} s per epoch, compile {t_warm - 2 * step:.1f} s, "
                  f"evaluation {t_eval / k * 1e3:.2f} ms/clip", flush=True)
        for r in readers.values():
            r.close()
    print_table(f"Training on {backend.device_name()}, Keras backend {backend.name()} ({n} CREMA-D-shaped "
                f"clips, batch {batch}, {steps} timed steps, best of {repeat}); baseline: the same model fed "
                "numpy arrays, same run", rows)
    print(f"\nsaved {save(f'training-{backend.name()}', rows)}")
    return rows


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["tensorflow", "jax", "torch"],
                        help="Keras backend (default: KERAS_BACKEND, else tensorflow)")
    parser.add_argument("--clips", type=int, default=48, help="clips in the synthetic store (CREMA-D: 7442)")
    parser.add_argument("--steps", type=int, default=0, help="timed training steps (default: one epoch)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per variant (best is kept)")
    args = parser.parse_args()
    if args.backend:
        os.environ["KERAS_BACKEND"] = args.backend  # before Keras is first imported
    main(args.clips, variants=args.variants, repeat=args.repeat, steps=args.steps)
