"""One writer per store: two real extractions on one store folder, a killed writer, a reader
beside a writer."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from avemo.cli import main
from avemo.errors import StoreLockedError
from avemo.features.inspect import verify
from avemo.features.lock import StoreLock
from avemo.features.reader import StoreReader
from avemo.features.schema import LOCK_FILE
from tests.media import assert_same_files

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=str(ROOT))


def _extract(manifest, out, *extra):
    return [sys.executable, "-m", "avemo", "extract", "mfcc", "--manifest", str(manifest), "--out", str(out),
            "-j", "1", "--shard-size", "4", *extra]


def _writer_holding_the_lock(manifest, store):
    """A real extraction into ``store``, stopped (SIGSTOP) while it holds the store's lock."""
    proc = subprocess.Popen(_extract(manifest, store), cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (store / LOCK_FILE).is_file() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGSTOP)
    assert proc.poll() is None, "the first writer ended before it could be stopped"
    return proc


@pytest.fixture
def manifest(demo_corpus, tmp_path):
    out = tmp_path / "m.csv"
    assert CliRunner().invoke(main, ["manifest", "--root", str(demo_corpus), "--out", str(out)]).exit_code == 0
    return out


def test_a_second_writer_stops_at_once_and_the_first_ends_as_a_clean_run(manifest, tmp_path):
    clean = tmp_path / "clean"
    assert CliRunner().invoke(main, _extract(manifest, clean)[3:]).exit_code == 0
    store = tmp_path / "store"
    first = _writer_holding_the_lock(manifest, store)
    try:
        t0 = time.time()
        second = subprocess.run(_extract(manifest, store), cwd=ROOT, env=ENV, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 1 and time.time() - t0 < 60  # refused, not waiting its turn
        assert f"store {store} is being written by another process (pid {first.pid})" in second.stderr
    finally:
        first.send_signal(signal.SIGCONT)
    assert first.wait(timeout=300) == 0
    assert verify(store) == []
    assert_same_files(store, clean, must_include="shard-00005.h5")  # no lock file left either


def test_a_killed_writer_leaves_no_stale_lock_and_readers_are_never_blocked(manifest, tmp_path):
    store = tmp_path / "store"
    assert CliRunner().invoke(main, _extract(manifest, store)[3:]).exit_code == 0
    expected = {p.name: p.read_bytes() for p in store.iterdir()}
    writer = _writer_holding_the_lock(manifest, store)  # a re-run: it resumes (nothing to add)
    with StoreReader(store) as reader:  # reading while a writer holds the lock
        assert len(reader) == 24 and reader.read(reader.clip_ids[0], "mfcc").shape == (9, 40, 40)
    with pytest.raises(StoreLockedError, match=f"pid {writer.pid}"):
        StoreLock(store).acquire()
    writer.kill()  # kill -9 while stopped, holding the lock: the kernel releases it
    writer.wait()
    assert (store / LOCK_FILE).is_file()  # the file stays; the lock does not
    res = subprocess.run(_extract(manifest, store), cwd=ROOT, env=ENV, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "24 already stored" in res.stderr
    assert {p.name: p.read_bytes() for p in store.iterdir()} == expected


def test_temporary_files_of_two_writers_never_share_a_name(tmp_path):
    from avemo.fileio import temp_path

    names = {temp_path(tmp_path / "index.json") for _ in range(100)}
    assert len(names) == 100 and all(n.suffix == ".json" and n.parent == tmp_path for n in names)
