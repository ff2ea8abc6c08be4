"""A write the system refuses (a full disk, the file size limit) ends an extraction with a clear
error and loses nothing already published; the same command then resumes to the same bytes.

Real kernel errors, no mocks: a tiny tmpfs in a private mount namespace (ENOSPC) where user
namespaces are allowed, and RLIMIT_FSIZE (EFBIG) everywhere.
"""

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from avemo.cli import main
from avemo.features.reader import StoreReader
from tests.media import assert_same_files

ROOT = Path(__file__).resolve().parents[1]
SHARD = 4  # clips per shard: the 24-clip demo corpus makes 6 shards


def _extract_args(manifest: Path, out: Path) -> list[str]:
    # two worker processes: the stop must also cancel the tasks still running, quietly
    return ["extract", "mfcc", "--manifest", str(manifest), "--out", str(out), "--shard-size", str(SHARD),
            "-j", "2"]


@pytest.fixture(scope="module")
def reference(demo_corpus, tmp_path_factory):
    """The demo corpus's manifest and an uninterrupted store made from it."""
    tmp = tmp_path_factory.mktemp("ref")
    runner = CliRunner()
    manifest = tmp / "m.csv"
    assert runner.invoke(main, ["manifest", "--root", str(demo_corpus), "--out", str(manifest)]).exit_code == 0
    res = runner.invoke(main, _extract_args(manifest, tmp / "store"))
    assert res.exit_code == 0, res.output
    assert len(list((tmp / "store").glob("shard-*.h5"))) == 6
    return manifest, tmp / "store"


def _digests(store: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(store.glob("shard-*.h5"))}


def _assert_kept(store: Path, ref: Path, shards: int) -> None:
    """After the refused write: exactly the first ``shards`` shards, byte-identical to the
    uninterrupted run's, an index that lists them and only them, no partial file."""
    ref_digests = _digests(ref)
    kept = _digests(store)
    assert len(kept) == shards and all(kept[n] == ref_digests[n] for n in kept), kept
    assert not list(store.glob("*.partial"))
    index = json.loads((store / "index.json").read_text())
    assert sorted(index["shards"]) == sorted(kept)
    assert index["shard_sha256"] == kept
    with StoreReader(store) as r, StoreReader(ref) as full:
        assert len(r.clip_ids) == shards * SHARD
        for clip in r.clip_ids:
            assert r.read(clip, "mfcc").tobytes() == full.read(clip, "mfcc").tobytes()


def _namespaces_allowed() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && umount $d"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _namespaces_allowed(), reason="needs unprivileged user and mount namespaces "
                    "(unshare); test_a_file_size_limit... covers the same path with EFBIG")
def test_a_full_disk_ends_the_run_with_a_clear_error_and_keeps_what_was_published(reference, tmp_path):
    manifest, ref = reference
    shard_bytes = max(p.stat().st_size for p in ref.glob("shard-*.h5"))
    small = (ref / "store.json").stat().st_size + (ref / "index.json").stat().st_size
    # Room for two shards and the small files, not for a third.
    size_kb = (2 * shard_bytes + 2 * small + 0.6 * shard_bytes) // 1024
    mnt, out = tmp_path / "disk", tmp_path / "out"
    mnt.mkdir(), out.mkdir()
    cmd = shlex.join([sys.executable, "-m", "avemo", *_extract_args(manifest, mnt / "store")])
    script = f"""
        mount -t tmpfs -o size={int(size_kb)}k tmpfs {mnt}
        {cmd} > {out}/full.out 2> {out}/full.err; echo $? > {out}/full.rc
        cp -a {mnt}/store {out}/after_full
        mount -o remount,size=64m {mnt}
        {cmd} > {out}/resume.out 2> {out}/resume.err; echo $? > {out}/resume.rc
        cp -a {mnt}/store {out}/resumed
    """
    subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script], check=True,
                   cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=300)
    err = (out / "full.err").read_text()
    assert (out / "full.rc").read_text().strip() == "1", err
    assert "no room left on the disk" in err and str(mnt / "store") in err and "re-run" in err, err
    assert "No space left on device" in err
    assert "Traceback" not in err
    _assert_kept(out / "after_full", ref, shards=2)
    # Space made: the same command resumes and ends with the uninterrupted run's bytes.
    assert (out / "resume.rc").read_text().strip() == "0", (out / "resume.err").read_text()
    assert "16 stored, 8 already stored" in (out / "resume.err").read_text()
    assert_same_files(out / "resumed", ref, must_include="shard-00005.h5")


def test_a_file_size_limit_stops_the_run_cleanly_and_the_rerun_resumes(reference, tmp_path):
    manifest, ref = reference
    store = tmp_path / "store"
    # A first run publishes the shards of the first 8 clips.
    lines = manifest.read_text().splitlines(keepends=True)
    first = tmp_path / "first.csv"
    first.write_text("".join(lines[:1 + 2 * SHARD]))
    assert CliRunner().invoke(main, _extract_args(first, store)).exit_code == 0
    before = {p.name: p.read_bytes() for p in store.iterdir()}
    shard_bytes = min(p.stat().st_size for p in ref.glob("shard-*.h5"))
    cmd = [sys.executable, "-m", "avemo", *_extract_args(manifest, store)]
    # Writes past half a shard fail with EFBIG (Python ignores SIGXFSZ); the limit is set in the
    # child before it execs the command (no preexec_fn: this process has threads).
    limited = [sys.executable, "-c", "import os, resource, sys; n = int(sys.argv[1]); "
               "resource.setrlimit(resource.RLIMIT_FSIZE, (n, n)); os.execv(sys.argv[2], sys.argv[2:])",
               str(shard_bytes // 2), *cmd]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    res = subprocess.run(limited, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    assert "no room left on the disk" in res.stderr and "File too large" in res.stderr, res.stderr
    assert "the 2 published shard(s) (8 clips) are kept" in res.stderr
    assert "Traceback" not in res.stderr
    _assert_kept(store, ref, shards=2)
    assert {n: (store / n).read_bytes() for n in before} == before  # index, meta, shards untouched
    res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "16 stored, 8 already stored" in res.stderr
    assert_same_files(store, ref, must_include="shard-00005.h5")


def test_a_warning_says_up_front_when_the_clips_will_not_fit(reference, tmp_path):
    from avemo.features.schema import mfcc_specs
    from avemo.features.writer import StoreWriter

    with StoreWriter(tmp_path / "s", "mfcc", {"a": 1}, mfcc_specs((9, 40, 40))) as w:
        assert w.room_warning(10) is None
        free = shutil.disk_usage(tmp_path).free
        too_many = 2 * free // (9 * 40 * 40 * 4)  # twice what fits (free space moves meanwhile)
        msg = w.room_warning(too_many)
    assert msg and f"{too_many} clips need about" in msg and "re-run to resume" in msg
