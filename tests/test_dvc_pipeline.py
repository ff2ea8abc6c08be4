"""`dvc repro` end to end on a copy of this repository with a tiny demo corpus and a tiny model:
every stage runs and writes its outputs, and DVC's caching re-runs exactly what a change
touches (nothing twice, heads.* -> head training onwards, mfcc.* -> not faces, train.* ->
training onwards, through `dvc exp run -S`), a real corpus gets no demo work, and DVC keeps its scratch state inside the project."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sklearn.metrics import f1_score

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("gru", "maxpool")  # two of the four keep CI short; foreach treats them all alike
TRAIN = {f"train@{v}" for v in VARIANTS}
EVAL = {f"evaluate@{v}" for v in VARIANTS}
HEADS = {f"heads@{v}" for v in VARIANTS} | {f"evaluate_heads@{v}" for v in VARIANTS}
AFTER_TRAINING = TRAIN | EVAL | {"embed"} | HEADS | {"report"}

# Small enough for CI: 4 pseudo-actors, 1 test and 1 validation actor, 8 frames of 32x32,
# one epoch, two variants.
TINY = {"jobs": 1, "demo": {"actors": 4}, "split": {"test_actors": 1, "val_actors": 1},
        "faces": {"n_frames": 8, "size": 32},
        "train": {"epochs": 1, "converge_epochs": 1, "threads": 1, "variants": list(VARIANTS)},
        "heads": {"backbone": "gru", "epochs": 2, "converge_epochs": 2}}


def _merge(params: dict, changes: dict) -> dict:
    for key, value in changes.items():
        if isinstance(value, dict):
            _merge(params.setdefault(key, {}), value)
        else:
            params[key] = value
    return params


class Project:
    """A git + DVC copy of the repository's tracked files in a temporary folder."""

    def __init__(self, root: Path, scratch: Path):
        self.root, self.scratch = root, scratch
        bin_dir = str(Path(sys.executable).parent)
        self.env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
                    "HOME": str(scratch / "home"), "TMPDIR": str(scratch / "tmp"),
                    "XDG_CACHE_HOME": str(scratch / "home" / ".cache"),
                    "NUMBA_CACHE_DIR": str(root / ".cache" / "numba"),
                    "MPLCONFIGDIR": str(root / ".cache" / "matplotlib"),
                    "KERAS_HOME": str(root / ".cache" / "keras"),
                    "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
                    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
                    "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONDONTWRITEBYTECODE": "1"}
        for d in ("home", "tmp"):
            (scratch / d).mkdir(parents=True, exist_ok=True)

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(list(args), cwd=self.root, env=self.env, capture_output=True, text=True)
        if check and proc.returncode:
            raise AssertionError(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n"
                                 f"{proc.stderr[-4000:]}")
        return proc

    def dvc(self, *args: str) -> subprocess.CompletedProcess:
        return self.run(sys.executable, "-m", "dvc", *args)

    def repro(self, *args: str) -> set[str]:
        """Run `dvc repro`; return the names of the stages that actually ran."""
        out = self.dvc("repro", *args).stdout
        return set(re.findall(r"Running stage '([^']+)'", out))

    def set_params(self, changes: dict) -> None:
        path = self.root / "params.yaml"
        path.write_text(yaml.safe_dump(_merge(yaml.safe_load(path.read_text()), changes), sort_keys=False))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    base = tmp_path_factory.mktemp("dvc")
    root = base / "repo"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.split("\0")
    for name in filter(None, files):
        if (REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / name)
    (root / "dvc.lock").unlink(missing_ok=True)  # a fresh clone's lock would not match TINY
    p = Project(root, base / "scratch")
    p.set_params(TINY)
    p.run("git", "init", "-q")
    p.run("git", "add", "-A")
    p.run("git", "commit", "-q", "-m", "copy")
    return p


def test_repro_builds_everything_then_caches(project):
    ran = project.repro()
    assert ran == {"demo", "manifest", "split", "faces", "mfcc", "egemaps", "baseline", "folds", "cv"} | AFTER_TRAINING
    assert json.loads((project.root / "metrics" / "cv.json").read_text())["active"] is False  # defaults: Table I
    root = project.root
    assert (root / "data" / "demo" / "AVEMO_DEMO_CORPUS.txt").is_file()
    for v in VARIANTS:
        assert (root / "models" / f"{v}.keras").is_file()
        metrics = json.loads((root / "metrics" / "eval" / f"{v}.json").read_text())
        rows = list(csv.DictReader(open(root / "plots" / v / "predictions.csv")))
        true, pred = [r["true"] for r in rows], [r["predicted"] for r in rows]
        assert metrics["n"] == 6 == len(rows)  # the metrics are those of this stage's predictions
        assert metrics["macro"]["f1"] == pytest.approx(f1_score(true, pred, average="macro", labels=sorted(set(true))))
    for v in VARIANTS:
        assert (root / "models" / "heads" / f"{v}.keras").is_file()
        assert json.loads((root / "metrics" / "heads" / "eval" / f"{v}.json").read_text())["n"] == 6
    table = (root / "reports" / "results.md").read_text()
    assert table.count("| not run |") == 0 and "Demo corpus" in table and "head-only F1" in table
    shown = project.dvc("metrics", "show", "--json").stdout
    assert all(f"metrics/eval/{v}.json" in shown for v in VARIANTS)

    assert project.repro() == set()  # nothing changed: nothing runs

    # DVC kept its scratch state in the project: nothing in the (fake) home or system temp.
    leftovers = [p for p in project.scratch.rglob("*") if p.is_file()]
    assert leftovers == [], leftovers


CROSS = {f"cross-corpus/dvc.yaml:{s}" for s in ("manifest", "split", "mfcc", "faces", "report")} | {
    f"cross-corpus/dvc.yaml:evaluate@{v}" for v in VARIANTS}


def test_cross_corpus_pipeline_scores_the_models_on_another_corpus(project):
    """`dvc repro cross-corpus/dvc.yaml`: the demo's CREMA-D models on every clip of the bundled
    RAVDESS-style media, in CREMA-D's label set (calm and surprised rejected, counted)."""
    assert project.repro("cross-corpus/dvc.yaml") == CROSS  # the main pipeline is up to date
    root = project.root / "cross-corpus"
    rejected = (root / "data" / "manifest.rejected.csv").read_text()
    assert "label 'CAL' has no image" in rejected and "label 'SUR' has no image" in rejected
    for v in VARIANTS:
        m = json.loads((root / "metrics" / "eval" / f"{v}.json").read_text())
        assert (m["train_corpus"], m["test_corpus"], m["split"], m["n"]) == ("crema-d", "ravdess", "all", 24)
        rows = list(csv.DictReader(open(root / "plots" / v / "predictions.csv")))
        assert len(rows) == 24 and {r["true"] for r in rows} == {"ANG", "DIS", "FEA", "HAP", "NEU", "SAD"}
    table = (root / "reports" / "results.md").read_text()
    assert "trained on crema-d, tested on ravdess" in table and "cross-corpus" in table
    assert project.repro() == set()  # the main pipeline does not run the second one
    assert project.repro("cross-corpus/dvc.yaml") == set()


def _metrics(project, folder: str) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((project.root / "metrics" / folder).glob("*.json"))}


def test_head_change_reruns_head_training_evaluation_report_only(project):
    before = _metrics(project, "heads/eval")
    project.set_params({"heads": {"converge_lr": 0.003}})  # the demo heads train with the converge schedule
    ran = project.repro()
    assert ran - {"report"} == HEADS  # neither extraction nor the embedding stage
    # the report re-runs exactly when a metrics file it reads changed (DVC compares contents)
    assert ("report" in ran) == (_metrics(project, "heads/eval") != before)


def test_mfcc_change_reruns_mfcc_onwards_not_faces(project):
    project.set_params({"mfcc": {"n_mfcc": 20}})
    assert project.repro() == {"mfcc", "cv"} | AFTER_TRAINING
    from avemo.features.reader import StoreReader

    with StoreReader(project.root / "data" / "store" / "mfcc") as r:
        assert r.spec("mfcc").shape == (9, 40, 20)


def test_exp_run_with_a_param_override(project):
    project.run("git", "add", "-A")
    project.run("git", "commit", "-q", "-m", "params")
    before = _metrics(project, "eval"), _metrics(project, "heads/eval")
    out = project.dvc("exp", "run", "-S", "train.converge_epochs=2").stdout  # the small corpus' schedule
    # A train.* change re-runs training and what follows it only (not the demo, manifest, split,
    # faces or mfcc stages); the report only when a metrics file it reads changed.
    ran = set(re.findall(r"Running stage '([^']+)'", out))
    assert ran - {"report"} == AFTER_TRAINING - {"report"} | {"cv"}
    assert ("report" in ran) == ((_metrics(project, "eval"), _metrics(project, "heads/eval")) != before)
    history = (project.root / "metrics" / "gru" / "history.csv").read_text().strip().splitlines()
    assert len(history) == 1 + 2  # header and two epochs: the override reached the trainer
    # `dvc exp show` lists the experiment with its params and every variant's metrics.
    shown = json.loads(project.dvc("exp", "show", "--json").stdout)
    exps = [rev["data"] for row in shown for exp in row.get("experiments") or [] for rev in exp["revs"]]
    exp = next(d for d in exps if d["params"]["params.yaml"]["data"]["train"]["converge_epochs"] == 2)
    for v in VARIANTS:
        assert "macro" in exp["metrics"][f"metrics/eval/{v}.json"]["data"]


def test_two_folds_and_an_ablation_as_dvc_stages(project):
    """eval.folds 2 and eval.modalities [av, audio]: the folds and cv stages train every cell
    once; the metrics hold each fold's scores and the pooled ones; the report shows them."""
    project.set_params({"eval": {"folds": 2, "modalities": ["av", "audio"]}})
    assert project.repro() == {"folds", "cv", "report"}
    folds = sorted((project.root / "data" / "folds").glob("fold-*.json"))
    assert [p.name for p in folds] == ["fold-0.json", "fold-1.json"]
    assert project.run(sys.executable, "-m", "avemo", "split", "--check", *map(str, folds)).returncode == 0
    summary = json.loads((project.root / "metrics" / "cv.json").read_text())
    assert summary["active"] and summary["folds"] == 2 and summary["trained"] == 8
    assert sorted(summary["rows"]) == ["gru", "gru (audio)", "maxpool", "maxpool (audio)"]
    tested = set()
    for row in summary["rows"].values():
        assert sorted(p["fold"] for p in row["per_fold"]) == [0, 1]
        pooled = row["pooled_by_seed"]["0"]
        assert pooled["n"] == 24 == sum(p["n"] for p in row["per_fold"])  # every clip tested once
        tested |= set(pooled["actor_confusion"])
    assert len(tested) == 4  # every actor in a test fold
    report = (project.root / "reports" / "results.md").read_text()
    assert "## The protocol" in report and "| fold 0 | fold 1 |" in report
    assert "What each modality contributes" in report and "| gru | gru (audio) |" in report
    assert project.repro() == set()  # every cell cached


def test_real_corpus_gets_no_demo_work(project, crema_dir):
    project.set_params({"corpus": {"root": str(crema_dir)}})
    assert project.repro("manifest") == {"manifest"}  # the manifest no longer needs the demo
    assert project.repro("demo") == {"demo"}  # a plain `dvc repro` runs it: as a placeholder
    demo = project.root / "data" / "demo"
    assert sorted(p.name for p in demo.iterdir()) == ["NOT_USED.txt"]
    assert len((project.root / "data" / "manifest.csv").read_text().strip().splitlines()) == 1 + 6
