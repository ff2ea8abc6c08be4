"""Full CREMA-D scale, rehearsed on one machine: every stage on the 7,442-clip rehearsal corpus.

``make bench-full`` (or ``python benchmarks/bench_full.py [--work DIR] [--steps N]``) builds the
rehearsal corpus (``avemo demo-corpus --full``: every real clip name and actor) and runs the real
commands on it, each in its own process, measuring wall time and peak RSS (the largest single
process of the stage, workers included): manifest, split, mfcc and faces extraction, ``inspect
--verify`` of both stores; faults at full scale (``kill -9`` of the faces extraction half-way, then
the same command resumes, every shard compared with the uninterrupted run's; the MFCC
extraction into a tmpfs with room for half its store, then resumed after the disk is enlarged;
``--no-faults`` skips them); then per variant ``--steps`` training steps fed in memory and
streamed from the shards (seconds per step, projected seconds per epoch, peak RSS), the
backbone embedding of every clip and one full head-only training run. Prints one table and
writes ``benchmarks/results/full.json``. Needs ~10 GB of disk and ~12 GB of memory; on 2 cores
it takes ~20-30 minutes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from avemo.fileio import file_sha256  # noqa: E402
from benchmarks.common import ROOT, save  # noqa: E402

VARIANTS = ("gru", "lstm", "transformer", "maxpool")


def measured(cmd: list[str], cwd: Path, env: dict) -> dict:
    """Run ``cmd`` through this module's ``--child`` mode: its wall time and the peak RSS of its
    largest process (RUSAGE_CHILDREN of a wrapper that only waits for it)."""
    t = time.perf_counter()
    out = subprocess.run([sys.executable, __file__, "--child", *cmd], cwd=cwd, env=env, text=True,
                         capture_output=True)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    rss = json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mb"]
    return {"seconds": wall, "peak_rss_mb": rss, "stdout": out.stdout, "stderr": out.stderr}


def child(cmd: list[str]) -> None:
    """--child: run ``cmd``, then print the peak RSS of its process tree's largest process."""
    rc = subprocess.run(cmd).returncode
    print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
    sys.exit(rc)


def train_probe(variant: str, mode: str, steps: int, store: str, splits: str, out: str) -> None:
    """--train-probe: ``steps`` training steps of ``variant`` fed in memory or streamed; prints
    seconds per step (after one warm-up step that traces the graph) and projected epoch time."""
    import keras

    from avemo.splits import read_splits
    from avemo.training import backend
    from avemo.training.data import END_TO_END, ClipSource, batches, load_inputs, open_stores, select, \
        split_mfcc_statistics
    from avemo.training.models import bn_momentum_for, build_model

    backend.setup(0, 0)
    readers = open_stores(store)
    train = select(readers, read_splits(splits).labelled("train"), "train")
    t0 = time.perf_counter()
    if mode == "memory":
        load_inputs(readers, train)
    source = ClipSource(train, END_TO_END, None if mode == "memory" else readers)
    mean, var = split_mfcc_statistics(source)  # streamed: one pass over the MFCC shards
    ds = batches(source, 16, True, 0)
    load = time.perf_counter() - t0
    steps_per_epoch = -(-len(train.clip_ids) // 16)
    m = bn_momentum_for(steps_per_epoch)
    model = build_model(variant, readers["faces"].spec("frames").shape, readers["mfcc"].spec("mfcc").shape,
                        mean, var, (m, m), low_memory=mode == "stream")  # as train.low_memory: auto
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="sparse_categorical_crossentropy")
    t0 = time.perf_counter()
    model.fit(ds, epochs=1, steps_per_epoch=1, verbose=0)
    warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    model.fit(ds, epochs=1, steps_per_epoch=steps, verbose=0)
    step = (time.perf_counter() - t0) / steps
    if out:  # the backbone the embed stage runs
        model.save(out)
    print(json.dumps({"load_s": load, "warmup_s": warm, "step_s": step, "epoch_s": step * steps_per_epoch,
                      "train_clips": len(train.clip_ids)}))


def du(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e9


def digests(store: Path) -> dict[str, str]:
    return {p.name: file_sha256(p) for p in sorted(store.glob("shard-*.h5"))}


def resumed_counts(stderr: str) -> str:
    """"N stored, M already stored" from an extraction's last summary line."""
    line = next((ln for ln in reversed(stderr.splitlines()) if "already stored" in ln), "")
    return line.split(":", 1)[-1].split(" ->")[0].strip()


def kill_and_resume(cmd: list[str], ref: Path, out: Path, work: Path, env: dict) -> dict:
    """``kill -9`` an extraction once half the uninterrupted run's shards are published (plus a
    few seconds, so that a shard is half-written), resume it with the same command, and compare
    every shard with the uninterrupted run's (SHA-256)."""
    want = len(list(ref.glob("shard-*.h5"))) // 2
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    while len(list(out.glob("shard-*.h5"))) < want and proc.poll() is None:
        time.sleep(0.2)
    time.sleep(3)
    os.kill(proc.pid, signal.SIGKILL)  # the command itself, as `kill -9 PID` would
    proc.wait()
    killed_at = time.perf_counter() - t
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # its worker processes, orphaned
    left = {"published": len(list(out.glob("shard-*.h5"))), "partial": len(list(out.glob("*.partial")))}
    r = measured(cmd, work, env)
    ref_d, got = digests(ref), digests(out)
    same = sum(got.get(n) == d for n, d in ref_d.items())
    return {"killed_after_s": killed_at, **left, "resume_s": r["seconds"], "peak_rss_mb": r["peak_rss_mb"],
            "resumed": resumed_counts(r["stderr"]), "identical_shards": same, "shards": len(ref_d),
            "identical": same == len(ref_d) and len(got) == len(ref_d)}


def disk_full(cmd_of, ref: Path, work: Path, env: dict) -> dict | None:
    """An extraction into a tmpfs with room for half the uninterrupted store (a private mount
    namespace: needs ``unshare``), then the same command after the disk is enlarged. None where
    user namespaces are not allowed."""
    if not shutil.which("unshare") or subprocess.run(
            ["unshare", "--user", "--map-root-user", "--mount", "true"], capture_output=True).returncode:
        return None
    mnt, out = work / "tiny-disk", work / "disk-full"
    shutil.rmtree(out, ignore_errors=True)
    mnt.mkdir(exist_ok=True)
    out.mkdir()
    size_kb = int(du(ref) * 1e9 / 2 / 1024)
    cmd = shlex.join(cmd_of(mnt / "store"))
    script = f"""
        mount -t tmpfs -o size={size_kb}k tmpfs {mnt}
        {cmd} > {out}/full.out 2> {out}/full.err; echo $? > {out}/full.rc
        cp -a {mnt}/store {out}/after-full
        mount -o remount,size={4 * size_kb}k {mnt}
        {cmd} > {out}/resume.out 2> {out}/resume.err; echo $? > {out}/resume.rc
        cp -a {mnt}/store {out}/resumed
    """
    t = time.perf_counter()
    subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script], cwd=work, env=env,
                   check=True)
    total = time.perf_counter() - t
    err = (out / "full.err").read_text()
    message = next((ln for ln in err.splitlines() if ln.startswith("Error:")), "")
    ref_d, kept, resumed = digests(ref), digests(out / "after-full"), digests(out / "resumed")
    resume_rc = int((out / "resume.rc").read_text())
    row = {"tmpfs_mb": size_kb / 1024, "exit_code": int((out / "full.rc").read_text()), "message": message,
           "kept_shards": len(kept), "kept_identical": all(ref_d.get(n) == d for n, d in kept.items()),
           "partial_left": len(list((out / "after-full").glob("*.partial"))), "resume_exit_code": resume_rc,
           "resumed": resumed_counts((out / "resume.err").read_text()), "seconds": total,
           "identical": resumed == ref_d and resume_rc == 0}
    shutil.rmtree(out)
    return row


def main(work: Path, steps: int, jobs: int, faults: bool = True) -> list[dict]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    avemo = [str(Path(sys.executable).parent / "avemo")]
    corpus, store = work / "corpus", work / "store"
    rows: list[dict] = []

    def stage(name: str, cmd: list[str], note: str = "") -> dict:
        r = measured(cmd, work, env)
        rows.append({"stage": name, "seconds": r["seconds"], "peak_rss_mb": r["peak_rss_mb"], "note": note})
        print(f"  {name:<42} {r['seconds']:8.1f} s  {r['peak_rss_mb']:8.0f} MB  {note}", flush=True)
        return r

    print(f"full-scale rehearsal in {work} ({os.cpu_count()} cores)", flush=True)
    stage("rehearsal corpus (demo-corpus --full)", avemo + ["demo-corpus", "--full", "--out", str(corpus),
                                                            "-j", str(jobs), "--source", str(ROOT / "tests/data/crema-d")])
    stage("manifest", avemo + ["manifest", "--root", str(corpus), "--out", str(work / "manifest.csv")])
    stage("split", avemo + ["split", "--manifest", str(work / "manifest.csv"), "--out", str(work / "splits.json")])
    for modality in ("mfcc", "faces"):
        stage(f"extract {modality} (-j {jobs})", avemo + ["extract", modality, "--manifest", str(work / "manifest.csv"),
                                                           "--out", str(store / modality), "-j", str(jobs)])
        rows[-1]["store_gb"] = du(store / modality)
        rows[-1]["note"] = f"store {rows[-1]['store_gb']:.2f} GB"
    for modality in ("mfcc", "faces"):
        stage(f"inspect --verify {modality}", avemo + ["inspect", str(store / modality), "--verify"])
    if faults:
        def extract(modality: str, out: Path) -> list[str]:
            return avemo + ["extract", modality, "--manifest", str(work / "manifest.csv"), "--out", str(out),
                            "-j", str(jobs)]

        killed = work / "faces-killed"
        shutil.rmtree(killed, ignore_errors=True)
        k = kill_and_resume(extract("faces", killed), store / "faces", killed, work, env)
        shutil.rmtree(killed)
        rows.append({"stage": "faces: kill -9 mid-run, then resume", "seconds": k["resume_s"],
                     "peak_rss_mb": k["peak_rss_mb"], **k,
                     "note": f"killed after {k['killed_after_s']:.0f} s ({k['published']} shards published, "
                             f"{k['partial']} partial); resumed: {k['resumed']}; "
                             f"{k['identical_shards']}/{k['shards']} shards identical"})
        print(f"  {rows[-1]['stage']:<42} {k['resume_s']:8.1f} s  {k['peak_rss_mb']:8.0f} MB  {rows[-1]['note']}",
              flush=True)
        d = disk_full(lambda out: extract("mfcc", out), store / "mfcc", work, env)
        if d is None:
            print("  mfcc: full disk: skipped (needs unprivileged user namespaces: unshare)", flush=True)
        else:
            rows.append({"stage": "mfcc: disk full half-way, then resume", "peak_rss_mb": None, **d,
                         "note": f"tmpfs {d['tmpfs_mb']:.0f} MB: exit {d['exit_code']}, {d['kept_shards']} shards "
                                 f"kept ({'identical' if d['kept_identical'] else 'CHANGED'}), {d['partial_left']} "
                                 f"partial; resumed: {d['resumed']}; "
                                 f"{'identical to' if d['identical'] else 'DIFFERS from'} the uninterrupted store"})
            print(f"  {rows[-1]['stage']:<42} {d['seconds']:8.1f} s  {'':>8}     {rows[-1]['note']}\n"
                  f"    {d['message'][:300]}", flush=True)
    for variant in VARIANTS:
        for mode in ("memory", "stream"):
            out = str(work / f"{variant}.keras") if (variant, mode) == ("gru", "memory") else ""
            r = stage(f"train {variant}, {steps} steps, {'in memory' if mode == 'memory' else 'streamed'}",
                      [sys.executable, __file__, "--train-probe", variant, mode, str(steps), str(store),
                       str(work / "splits.json"), out])
            probe = json.loads(next(line for line in reversed(r["stdout"].splitlines()) if line.startswith('{"load_s"')))
            rows[-1].update(probe)
            rows[-1]["note"] = (f"{probe['step_s'] * 1e3 / 16:.0f} ms/clip, epoch ~{probe['epoch_s'] / 60:.1f} min "
                                f"({probe['train_clips']} clips), load {probe['load_s']:.0f} s")
    stage("embed (gru backbone, every clip)", avemo + ["embed", "--model", str(work / "gru.keras"), "--store", str(store),
                                                       "--out", str(store / "embeddings")])
    stage("head-only training, gru, 15 epochs", avemo + ["train", "--variant", "gru", "--embeddings",
                                                         str(store / "embeddings"), "--splits", str(work / "splits.json"),
                                                         "--out", str(work / "heads" / "gru.keras")])
    save("full", rows)
    print(f"\n{'stage':<44} {'seconds':>9} {'peak RSS':>10}  note")
    for r in rows:
        rss = f"{r['peak_rss_mb']:8.0f} MB" if r["peak_rss_mb"] is not None else " " * 11  # not measured
        print(f"{r['stage']:<44} {r['seconds']:9.1f} {rss}  {r['note']}")
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2:])
    if len(sys.argv) > 1 and sys.argv[1] == "--train-probe":
        a = sys.argv[2:]
        train_probe(a[0], a[1], int(a[2]), a[3], a[4], a[5] if len(a) > 5 else "")
        sys.exit(0)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, help="working folder (default: a temporary one, removed after)")
    ap.add_argument("--steps", type=int, default=5, help="timed training steps per variant and feeding (default 5)")
    ap.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, help="processes for the heavy stages")
    ap.add_argument("--no-faults", dest="faults", action="store_false",
                    help="skip the kill -9 / full-disk runs (~5 min)")
    args = ap.parse_args()
    if args.work:  # absolute: every stage runs with the working folder as its current directory
        args.work.mkdir(parents=True, exist_ok=True)
        main(args.work.resolve(), args.steps, args.jobs, args.faults)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp), args.steps, args.jobs, args.faults)
