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
            ("train",), ("embed",), ("evaluate",), ("report",), ("demo-corpus",)} == paths


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
