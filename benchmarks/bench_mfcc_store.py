"""MFCC throughput per core and store read time per clip, each against an in-memory baseline.

Run: ``python benchmarks/bench_mfcc_store.py`` (or ``make bench``). Targets (docs/architecture.md, performance targets):
MFCC >= 100 clips/s per core; reading one clip's face frames <= 0.5 ms.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(".cache/numba").resolve()))

import numpy as np  # noqa: E402

from benchmarks.common import CREMA_D_CLIPS, FIXTURES, best_of, print_table, save  # noqa: E402
from avemo.features.reader import StoreReader  # noqa: E402
from avemo.features.schema import face_specs, mfcc_specs  # noqa: E402
from avemo.features.writer import SourceInfo, StoreWriter  # noqa: E402
from avemo.pipeline.audio import load_audio, mfcc_windows  # noqa: E402
from avemo.pipeline.config import MfccConfig  # noqa: E402
from avemo.pipeline.extract import MfccExtractor, _work  # noqa: E402
from avemo.pipeline.threads import single_threaded_blas  # noqa: E402


def bench_mfcc(repeat_clips: int = 20) -> list[dict]:
    cfg = MfccConfig()
    wavs = sorted((FIXTURES / "AudioWAV").glob("*.wav")) * repeat_clips
    ex = MfccExtractor(cfg)
    _work(ex, "warm", wavs[0])  # numba compilation and caches, once
    ys = [load_audio(p, cfg.sr) for p in wavs[:6]] * repeat_clips

    def compute_only():
        with single_threaded_blas():
            for y in ys:
                mfcc_windows(y, cfg)

    def end_to_end():
        for p in wavs:
            _work(ex, "c", p)

    t_mem = best_of(compute_only) / len(ys)
    t_e2e = best_of(end_to_end) / len(wavs)
    cores = 2
    return [
        {"metric": "MFCC from in-memory samples", "value": 1 / t_mem, "unit": "clips/s", "baseline": None,
         "ratio": None, "target": ""},
        {"metric": "MFCC from WAV files (load+resample+MFCC)", "value": 1 / t_e2e, "unit": "clips/s",
         "baseline": 1 / t_mem, "ratio": t_mem / t_e2e, "target": ">= 100 clips/s per core"},
        {"metric": f"projected CREMA-D MFCC stage, {cores} cores", "value": CREMA_D_CLIPS * t_e2e / cores / 60,
         "unit": "min", "baseline": None, "ratio": None, "target": "part of <= 6 min end to end"},
    ]


def _checksum_cost(tmp: Path, data: np.ndarray, order: list[int]) -> dict:
    """Random reads of one clip's chunk through h5py, with and without Fletcher-32 checksums."""
    import h5py

    times = {}
    for checked in (False, True):
        path = tmp / f"chunks-{checked}.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset("x", data=data, chunks=(1, *data.shape[1:]), fletcher32=checked)
        with h5py.File(path, "r") as f:
            ds = f["x"]
            times[checked] = best_of(lambda: [ds[i] for i in order]) / len(order)
    return {"metric": "read one clip's frames: h5py with Fletcher-32 vs without", "value": times[True] * 1e3,
            "unit": "ms", "baseline": times[False] * 1e3, "ratio": times[True] / times[False],
            "target": "checksum cost"}


def bench_store(n: int = 200) -> list[dict]:
    rng = np.random.default_rng(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for modality, specs in (("faces", face_specs(50, 64)), ("mfcc", mfcc_specs((9, 40, 40)))):
            arrays = {s.name: (rng.integers(0, 255, (n, *s.shape)).astype(s.dtype) if s.dtype != "float32"
                               else rng.normal(size=(n, *s.shape)).astype(np.float32)) for s in specs}
            ids = [f"{1001 + i % 91}_DFA_ANG_{i:02d}"[:15] + f"{i}" for i in range(n)]
            root = Path(tmp) / modality
            with StoreWriter(root, modality, {}, specs, shard_size=100) as w:
                for i, c in enumerate(ids):
                    w.add(c, {k: v[i] for k, v in arrays.items()}, SourceInfo("x", 1, "0"))
            name = specs[0].name
            order = list(rng.permutation(ids))
            reader = StoreReader(root)
            reader.read(order[0], name)  # opens the shards

            def from_store():
                for c in order:
                    reader.read(c, name)

            pos = {c: i for i, c in enumerate(ids)}
            mem = arrays[name]

            def from_memory():
                for c in order:
                    mem[pos[c]].copy()

            t_store = best_of(from_store) / n
            t_mem = best_of(from_memory) / n
            if modality == "faces":  # the Fletcher-32 checksums' share: the same chunks without them
                rows.append(_checksum_cost(Path(tmp), arrays[name], [pos[c] for c in order]))
            t_load = best_of(lambda: reader.load(order, [name])) / n
            reader.close()
            target = "<= 0.5 ms" if modality == "faces" else ""
            rows += [
                {"metric": f"read one clip's {name} (random order)", "value": t_store * 1e3, "unit": "ms",
                 "baseline": t_mem * 1e3, "ratio": t_store / t_mem, "target": target},
                {"metric": f"load a split's {name} into memory, per clip", "value": t_load * 1e3, "unit": "ms",
                 "baseline": t_mem * 1e3, "ratio": t_load / t_mem, "target": ""},
            ]
    return rows


def main() -> list[dict]:
    rows = bench_mfcc() + bench_store()
    print_table("MFCC and store (baseline: same work on in-memory numpy arrays, same run)", rows)
    print(f"\nsaved {save('mfcc_store', rows)}")
    return rows


if __name__ == "__main__":
    main()
