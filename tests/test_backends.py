"""The trainer on every Keras 3 backend: JAX and PyTorch train, evaluate, embed and train heads
through the real CLI in a process where TensorFlow cannot be imported, and a model saved under
one backend loads and predicts the same under another."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from avemo.splits import read_splits
from avemo.training import backend
from avemo.training.data import load_split, open_stores
from avemo.training.models import load_model
from tests.stores import write_tiny_store

COMPAT = Path(__file__).parent / "data" / "compat"
#: Makes TensorFlow unimportable in a process: any `import tensorflow` raises ImportError.
BLOCK_TF = """
import importlib.machinery, sys
class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] == 'tensorflow':
            return importlib.machinery.ModuleSpec(name, self)
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        raise ImportError('TensorFlow is blocked in this test')
sys.meta_path.insert(0, NoTensorFlow())
"""
#: Runs the avemo CLI where TensorFlow cannot be imported.
NO_TF = BLOCK_TF + "from avemo.cli import main\nmain(sys.argv[1:], prog_name='avemo')\n"


def avemo(keras_backend: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "KERAS_BACKEND": keras_backend, "KERAS_HOME": str(cwd / ".keras")}
    proc = subprocess.run([sys.executable, "-c", NO_TF, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"avemo {' '.join(map(str, args))} under {keras_backend}:\n{proc.stderr[-3000:]}"
    return proc


def run_python(keras_backend: str, code: str, cwd: Path) -> str:
    env = {**os.environ, "KERAS_BACKEND": keras_backend}
    proc = subprocess.run([sys.executable, "-c", BLOCK_TF + code],
                          cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_store(tmp_path_factory.mktemp("tiny"))


def _predictions(path: Path) -> tuple[list[str], np.ndarray]:
    rows = list(csv.DictReader(open(path)))
    return [r["clip_id"] for r in rows], np.array([[float(r[k]) for k in r if k.startswith("p_")] for r in rows])


TRAIN = ("--epochs", "3", "--batch-size", "8", "--lr", "2e-3", "--seed", "1")


@pytest.mark.slow
def test_jax_trains_evaluates_embeds_and_trains_heads_without_tensorflow(tiny, tmp_path):
    store, splits = tiny
    model = tmp_path / "models" / "maxpool.keras"
    out = avemo("jax", "train", "--variant", "maxpool", "--store", store, "--splits", splits, "--out", model,
                "--history", tmp_path / "history.csv", *TRAIN, cwd=tmp_path)
    assert "3 epoch(s)" in out.stderr
    side = json.loads(model.with_suffix(".json").read_text())
    assert side["backend"] == "jax" and side["epochs_run"] == 3
    avemo("jax", "evaluate", "--variant", "maxpool", "--model", model, "--store", store, "--splits", splits,
          "--out", tmp_path / "eval.json", "--plots", tmp_path / "plots", cwd=tmp_path)
    metrics = json.loads((tmp_path / "eval.json").read_text())
    assert metrics["n"] == 12 and metrics["macro"]["f1"] > 0.5  # the tiny store is easy to learn
    avemo("jax", "embed", "--model", model, "--store", store, "--out", tmp_path / "emb", cwd=tmp_path)
    head = tmp_path / "heads" / "gru.keras"
    avemo("jax", "train", "--variant", "gru", "--embeddings", tmp_path / "emb", "--splits", splits, "--out", head,
          *TRAIN, cwd=tmp_path)
    assert head.is_file() and head.with_name("gru.head.keras").is_file()

    # Saved under JAX, loaded here under TensorFlow: the same probabilities on the test split.
    assert backend.name() == "tensorflow"
    ids, jax_probs = _predictions(tmp_path / "plots" / "predictions.csv")
    data = load_split(open_stores(store), read_splits(splits).labelled("test"), "test")
    assert ids == data.clip_ids
    tf_probs = backend.to_numpy(load_model(model)(data.inputs, training=False))
    np.testing.assert_allclose(tf_probs, jax_probs, atol=2e-5)


@pytest.mark.slow
def test_a_tensorflow_model_predicts_the_same_under_jax_and_torch(tmp_path):
    """The model saved by TensorFlow (avemo 0.1.0) loads in safe mode under the other backends."""
    code = ("import numpy as np; from avemo.training.backend import to_numpy; "
            "from avemo.training.models import load_model\n"
            f"io = np.load({str(COMPAT / 'transformer-0.1.0-io.npz')!r})\n"
            f"m = load_model({str(COMPAT / 'transformer-0.1.0.keras')!r})\n"
            "p = to_numpy(m({'faces': io['faces'], 'mfcc': io['mfcc']}, training=False))\n"
            "print(float(np.abs(p - io['probs']).max()))")
    for keras_backend in ("jax", "torch"):
        assert float(run_python(keras_backend, code, tmp_path).strip()) < 1e-5, keras_backend


@pytest.mark.slow
def test_torch_trains_and_evaluates_without_tensorflow(tiny, tmp_path):
    store, splits = tiny
    model = tmp_path / "gru.keras"
    avemo("torch", "train", "--variant", "gru", "--store", store, "--splits", splits, "--out", model, *TRAIN,
          cwd=tmp_path)
    assert json.loads(model.with_suffix(".json").read_text())["backend"] == "torch"
    avemo("torch", "evaluate", "--variant", "gru", "--model", model, "--store", store, "--splits", splits,
          "--out", tmp_path / "eval.json", "--plots", tmp_path / "plots", cwd=tmp_path)
    assert json.loads((tmp_path / "eval.json").read_text())["n"] == 12


def test_distribution_settings_other_backends_lack_are_refused(tiny, tmp_path):
    store, splits = tiny
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    for flags, needle in ((["--strategy", "mirrored"], "needs the TensorFlow backend"),
                          (["--cpu-devices", "2"], "the jax backend has none")):
        proc = subprocess.run([sys.executable, "-c", NO_TF, "train", "--variant", "maxpool", "--store", str(store),
                               "--splits", str(splits), "--out", str(tmp_path / "m.keras"), *flags],
                              cwd=tmp_path, env=env, capture_output=True, text=True)
        assert proc.returncode == 1 and needle in proc.stderr, proc.stderr[-2000:]
