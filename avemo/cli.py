"""The ``avemo`` command's root group: params, logging and error handling for every command.

The commands themselves belong to the packages (``avemo.pipeline.cli``,
``avemo.training.cli``) and are found through the ``avemo.commands`` entry points declared in
``pyproject.toml``; a command's module is imported only when that command runs (or when
``--help`` lists them), so this base layer imports none of the packages and ``avemo manifest``
does not pay for importing TensorFlow.
"""

from __future__ import annotations

import logging
import sys
from functools import lru_cache
from importlib.metadata import EntryPoint, entry_points

import click

from avemo import __version__
from avemo.errors import AvemoError, ConfigError
from avemo.params import load_params

log = logging.getLogger("avemo")
ENTRY_POINT_GROUP = "avemo.commands"


@lru_cache(maxsize=1)
def command_entry_points() -> dict[str, EntryPoint]:
    """Command name -> entry point (``module:attribute`` of a click command)."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


class AvemoGroup(click.Group):
    """The root group: sub-commands from entry points, loaded on demand; an
    :class:`AvemoError` becomes a one-line error and exit code 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(command_entry_points()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is None and name in command_entry_points():
            cmd = command_entry_points()[name].load()
            if not isinstance(cmd, click.Command):
                raise ConfigError(f"entry point {name} = {command_entry_points()[name].value} is not a "
                                  "click command: reinstall avemo (pip install -e .)")
        return cmd

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AvemoError as exc:
            raise click.ClickException(str(exc)) from exc


def params_of(ctx: click.Context) -> dict:
    """The params.yaml mapping loaded once by the root group."""
    return ctx.find_root().obj["params"]


@click.group(cls=AvemoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="avemo")
@click.option("--params", "params_file", type=click.Path(dir_okay=False), default="params.yaml",
              show_default=True, help="params file; flags of each command override it")
@click.option("-v", "--verbose", count=True, help="more log output (-vv for debug)")
@click.pass_context
def main(ctx: click.Context, params_file: str, verbose: int) -> None:
    """avemo: audio-visual emotion recognition on CREMA-D (manifest, split, features, training)."""
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    ctx.obj = {"params": load_params(params_file)}
