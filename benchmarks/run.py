"""Run every benchmark in one process and print one table (``make bench``).

Each suite prints its own table as it finishes; the combined table comes last. Not part of
``make test``: timings belong here, never in unit tests. Results are also written as JSON
under ``benchmarks/results/`` (``all.json`` holds every row).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import bench_faces, bench_heads, bench_mfcc_store, bench_predict, bench_training  # noqa: E402
from benchmarks.common import print_table, save  # noqa: E402

SUITES = {"faces": bench_faces.main, "mfcc_store": bench_mfcc_store.main, "training": bench_training.main,
          "heads": bench_heads.main, "predict": bench_predict.main}


def main(names: list[str]) -> None:
    unknown = sorted(set(names) - set(SUITES))
    if unknown:
        raise SystemExit(f"unknown suite(s) {unknown}; known: {', '.join(SUITES)}")
    rows = {name: SUITES[name]() for name in (names or SUITES)}
    every = [dict(r, suite=k) for k, v in rows.items() for r in v]
    print_table("All benchmarks (value, its baseline measured in the same run, ratio)",
                [dict(r, metric=f"[{r['suite']}] {r['metric']}"[:60]) for r in every])
    print(f"\nall results: {save('all', every)}")


if __name__ == "__main__":
    main(sys.argv[1:])
