"""Extraction on a real dask.distributed LocalCluster (2 worker processes) through joblib's dask
backend: the same bytes as a serial run, and a worker killed mid-run loses nothing."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
from click.testing import CliRunner

from avemo.cli import main
from avemo.pipeline.config import FaceConfig
from avemo.pipeline.extract import FaceExtractor, run_extraction
from avemo.pipeline.manifest import read_manifest
from tests.media import assert_same_files

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  local_directory=str(tmp_path_factory.mktemp("dask"))) as c:
        yield c


@pytest.fixture(scope="module")
def manifest(tmp_path_factory, demo_corpus):
    out = tmp_path_factory.mktemp("manifest") / "m.csv"
    res = CliRunner().invoke(main, ["manifest", "--root", str(demo_corpus), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out


def test_dask_cli_run_is_byte_identical_to_serial(cluster, manifest, tmp_path):
    runner = CliRunner()
    args = ["extract", "mfcc", "--manifest", str(manifest), "--shard-size", "10"]
    res = runner.invoke(main, [*args, "--out", str(tmp_path / "serial")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, [*args, "--out", str(tmp_path / "dask"), "--scheduler", cluster.scheduler_address])
    assert res.exit_code == 0, res.output
    assert "24 stored" in res.stderr
    assert_same_files(tmp_path / "serial", tmp_path / "dask", must_include="shard-00002.h5")


def test_worker_killed_mid_run_loses_nothing(cluster, manifest, tmp_path):
    rows = read_manifest(manifest)
    extractor = FaceExtractor(FaceConfig())
    run_extraction(rows, tmp_path / "serial", extractor, progress=False)
    with distributed.Client(cluster) as client:
        pids = client.run(os.getpid)
    result, killed = {}, {}

    def extract():
        result["report"] = run_extraction(rows, tmp_path / "dask", extractor, progress=False, backend="dask",
                                          scheduler=cluster.scheduler_address)

    worker = threading.Thread(target=extract)
    worker.start()
    scheduler = cluster.scheduler
    deadline = time.monotonic() + 120
    while worker.is_alive() and time.monotonic() < deadline:
        states = [t.state for t in list(scheduler.tasks.values())]
        busy = [ws.address for ws in list(scheduler.workers.values()) if ws.processing]
        if "memory" in states and busy:  # some clips are done, others are running on `busy[0]`
            killed["left"] = sum(s != "memory" for s in states)
            os.kill(pids[busy[0]], signal.SIGKILL)
            break
        time.sleep(0.005)
    worker.join(300)
    assert killed and killed["left"] > 0, "the run ended before a worker could be killed"
    report = result["report"]
    assert report.stored == len(rows) == 24 and report.failed == 0
    assert_same_files(tmp_path / "serial", tmp_path / "dask", must_include="shard-00000.h5")


def test_unreachable_scheduler_is_a_clear_error(manifest, tmp_path):
    res = CliRunner().invoke(main, ["extract", "mfcc", "--manifest", str(manifest), "--out", str(tmp_path / "s"),
                                    "--scheduler", "tcp://127.0.0.1:9"])
    assert res.exit_code == 1
    assert "no dask scheduler answers at tcp://127.0.0.1:9" in res.output
