import pytest
from click.testing import CliRunner

from pipeline import __version__
from pipeline.cli import main


def _commands(group, prefix=()):
    for name, cmd in group.commands.items():
        yield prefix + (name,)
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, prefix + (name,))


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
