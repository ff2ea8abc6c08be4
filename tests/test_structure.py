"""The structure holds: one `avemo` namespace, layers that only import downwards, no import
cycles, project imports at module level (command modules excepted), and DVC deps that cover
every module a stage's command can import."""

from __future__ import annotations

import os

import shutil
import subprocess
import sys
import tomllib
import zipfile

import pytest
import yaml

from tests.structure import REPO, closure, cycles, hidden_imports, layer_violations, read_modules

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
ENTRY_POINTS = PYPROJECT["project"]["entry-points"]["avemo.commands"]


@pytest.fixture(scope="module")
def modules():
    return read_modules()


def test_the_graph_sees_every_module_and_import(modules):
    assert {"avemo.cli", "avemo.errors", "avemo.pipeline.faces", "avemo.features.writer",
            "avemo.training.train"} <= set(modules)
    writer = {t for t, _, _ in modules["avemo.features.writer"].imports}
    assert {"avemo.errors", "avemo.fileio", "avemo.features.schema"} <= writer
    deferred = {t for t, _, nested in modules["avemo.training.cli"].imports if nested}
    assert "avemo.training.train" in deferred


def test_layers_only_import_downwards(modules):
    assert layer_violations(modules) == []


def test_no_import_cycles(modules):
    assert cycles(modules) == []


def test_project_imports_sit_at_module_level(modules):
    assert hidden_imports(modules) == []


def test_the_checks_catch_a_back_arrow_a_cycle_and_a_hidden_import(tmp_path):
    """The same checks on a small tree that breaks each rule once."""
    for folder in ("avemo", "features", "pipeline", "training"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "__init__.py").write_text("")
    (tmp_path / "avemo" / "errors.py").write_text("from avemo.pipeline import stage\n")  # base -> package
    (tmp_path / "features" / "reader.py").write_text("import avemo.errors\nfrom avemo.training.train import x\n")
    (tmp_path / "pipeline" / "stage.py").write_text("from avemo.errors import E\n")
    (tmp_path / "training" / "train.py").write_text("def f():\n    from avemo.features import schema\n")
    mods = read_modules(tmp_path)
    assert sorted(v.split(": ", 1)[1] for v in layer_violations(mods)) == [
        "avemo.errors (avemo) imports avemo.pipeline.stage (avemo.pipeline)",
        "avemo.features.reader (avemo.features) imports avemo.training.train (avemo.training)"]
    assert cycles(mods) == [["avemo.errors", "avemo.pipeline.stage", "avemo.errors"]]
    assert [h.split(": ", 1)[1] for h in hidden_imports(mods)] == [
        "avemo.training.train imports avemo.features inside a function"]


#: Every pipeline of the repository, and the folder its paths are relative to.
PIPELINES = {"dvc.yaml": "", "cross-corpus/dvc.yaml": "cross-corpus"}


def _stage_commands():
    """(stage name, its cmd, its deps relative to the repository) of every stage of every
    pipeline; foreach stages once (``gru``)."""
    for pipeline, folder in PIPELINES.items():
        stages = yaml.safe_load((REPO / pipeline).read_text())["stages"]
        for name, stage in stages.items():
            body = stage.get("do", stage)
            deps = [os.path.normpath(os.path.join(folder, d)) for d in body.get("deps", [])]
            yield f"{pipeline}:{name}", " ".join(body["cmd"].split()).replace("${item}", "gru"), deps


def test_every_pipeline_is_listed():
    found = sorted(str(p.relative_to(REPO)) for p in [REPO / "dvc.yaml", *REPO.glob("*/dvc.yaml")])
    assert found == sorted(PIPELINES)


def _command_module(cmd: str) -> str:
    words = cmd.split()
    if words[1:2] == ["--params"]:  # `avemo --params FILE COMMAND ...`
        words = [words[0], *words[3:]]
    assert words[0] == "avemo", f"stage command {cmd!r} is not an avemo command"
    target = ENTRY_POINTS[words[1]]
    return target.split(":")[0]


def uncovered(modules, cmd: str, deps: list[str]) -> list[str]:
    """Source files (relative to the repository) that ``cmd`` can import and ``deps`` miss."""
    needed = closure(modules, "avemo.cli") | closure(modules, _command_module(cmd))
    files = sorted(str(modules[m].path.relative_to(modules[m].path.parents[1])) for m in needed)
    covered = [d.rstrip("/") for d in deps]
    return [f for f in files if not any(f == d or f.startswith(d + "/") for d in covered)]


@pytest.mark.parametrize("stage,cmd,deps", list(_stage_commands()), ids=lambda v: v if isinstance(v, str) else "")
def test_dvc_deps_cover_the_code_a_stage_runs(modules, stage, cmd, deps):
    assert uncovered(modules, cmd, deps) == [], f"dvc.yaml stage {stage}: add these (or their folders) to deps"


def test_the_deps_check_catches_a_missing_module(modules):
    assert "pipeline/faces.py" in uncovered(modules, "avemo extract faces --out x", ["avemo", "features"])
    missing = uncovered(modules, "avemo report --out x", ["avemo", "features", "training/cli.py"])
    assert "training/report.py" in missing and "training/cli.py" not in missing
    assert not any(f.startswith(("avemo/", "features/")) for f in missing)


def test_every_command_entry_point_resolves(modules):
    from click.testing import CliRunner

    from avemo.cli import command_entry_points, main

    assert set(command_entry_points()) == set(ENTRY_POINTS), "reinstall: pip install -e ."
    for name, target in ENTRY_POINTS.items():
        assert target.split(":")[0] in modules
        res = CliRunner().invoke(main, [name, "--help"])
        assert res.exit_code == 0 and "Usage:" in res.output, (name, res.output)


@pytest.mark.slow
def test_the_wheel_installs_one_namespace(tmp_path):
    """site-packages gets avemo/ alone: the packages under it, the metadata CSVs, the command
    entry points; no top-level pipeline/, features/, training/ or predict/. Built from a copy of
    the tracked files, so the build leaves nothing in the checkout."""
    src = tmp_path / "src"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True)
    for name in filter(None, tracked.stdout.split("\0")):
        if (REPO / name).is_file() and not name.startswith("tests/"):
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path), str(src)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("avemo-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"avemo", wheel.name.split("-py3")[0] + ".dist-info"}
    for expected in ("avemo/cli.py", "avemo/pipeline/faces.py", "avemo/features/reader.py",
                     "avemo/training/models.py", "avemo/predict/model.py", "avemo/data/SentenceFilenames.csv"):
        assert expected in names
    eps = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "[avemo.commands]" in eps and "train = avemo.training.cli:train_cmd" in eps
