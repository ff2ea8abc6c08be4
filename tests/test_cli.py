import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from avemo import __version__
from avemo.cli import main


def _commands(group, prefix=()):
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        yield prefix + (name,)
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, prefix + (name,))


def test_every_command_is_there():
    paths = set(_commands(main))
    assert {("manifest",), ("split",), ("extract",), ("extract", "mfcc"), ("extract", "faces"), ("inspect",),
            ("extract", "egemaps"), ("baseline",), ("train",), ("embed",), ("evaluate",), ("cv",), ("report",),
            ("demo-corpus",), ("predict",)} == paths


@pytest.mark.parametrize("path", [()] + list(_commands(main)))
def test_help_everywhere(path):
    res = CliRunner().invoke(main, [*path, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output


def test_version():
    res = CliRunner().invoke(main, ["--version"])
    assert res.exit_code == 0 and __version__ in res.output


def test_unknown_params_key_is_named(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("split:\n  test_actor: 3\n")
    res = CliRunner().invoke(main, ["--params", str(p), "split", "--manifest", "x.csv", "--out", "y.json"])
    assert res.exit_code == 1 and "test_actor" in res.output


def test_pipeline_commands_start_without_tensorflow():
    """Commands load lazily from entry points: running a pipeline command (or --help) must not
    import Keras/TensorFlow, which only the training commands need."""
    code = ("import sys; from click.testing import CliRunner; from avemo.cli import main; "
            "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0; "
            "r = CliRunner().invoke(main, ['split', '--check', sys.argv[1]]); "
            "print(sorted(m for m in ('tensorflow', 'keras', 'avemo.training.train') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, __file__], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_python_dash_m_avemo_is_the_same_command():
    out = subprocess.run([sys.executable, "-m", "avemo", "--version"], capture_output=True, text=True, check=True)
    assert __version__ in out.stdout


@pytest.mark.parametrize("command", [["extract", "mfcc"], ["demo-corpus", "--source", "tests/data/crema-d"]])
def test_jobs_default_to_the_jobs_param_and_the_flag_overrides_it(tmp_path, command, crema_dir):
    """`-j` is the top-level `jobs` param unless given: a bad `jobs` is refused by name when the
    flag is left out, and not read at all when it is given."""
    (tmp_path / "m.csv").write_text("clip_id,actor,sentence,emotion,level,sex,video,audio\n")
    params = tmp_path / "p.yaml"
    params.write_text("jobs: 0\n")
    out = ["--manifest", str(tmp_path / "m.csv"), "--out", str(tmp_path / "store")] if command[0] == "extract" \
        else ["--out", str(tmp_path / "demo"), "--if-corpus", str(tmp_path / "elsewhere")]  # a placeholder only
    res = CliRunner().invoke(main, ["--params", str(params), *command, *out])
    assert res.exit_code == 1 and "jobs must be a positive number of processes or -1" in res.output, res.output
    res = CliRunner().invoke(main, ["--params", str(params), *command, *out, "-j", "1"])
    assert "jobs must be" not in res.output, res.output
