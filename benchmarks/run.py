"""Run every benchmark in one process and print one table each (``make bench``).

Not part of ``make test``: timings belong here, never in unit tests. Results are also
written as JSON under ``benchmarks/results/``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_faces, bench_mfcc_store  # noqa: E402
from benchmarks.common import save  # noqa: E402


def main() -> None:
    rows = {"faces": bench_faces.main(), "mfcc_store": bench_mfcc_store.main()}
    try:
        from benchmarks import bench_training
    except ImportError:
        bench_training = None
    if bench_training is not None:
        rows["training"] = bench_training.main()
    out = save("all", [dict(r, suite=k) for k, v in rows.items() for r in v])
    print(f"\nall results: {out}")


if __name__ == "__main__":
    main()
