"""Commands of the feature-store package (``avemo inspect``)."""

from __future__ import annotations

import json

import click


@click.command("inspect")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@click.option("--clip", "clip_id", help="print this clip's array statistics")
@click.option("--png", type=click.Path(dir_okay=False), help="draw the clip (needs --clip) to this PNG")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--verify", is_flag=True, help="re-read every shard; exit 1 naming any broken file")
def inspect_cmd(store, clip_id, png, as_json, verify):
    """Summarise a feature store, one clip of it (--clip, --png), or verify it."""
    from features.inspect import (clip_stats, draw_clip, format_clip_stats, format_summary,
                                  summarize, verify as verify_store)

    if png and not clip_id:
        raise click.UsageError("--png needs --clip ID")
    if verify:
        problems = verify_store(store)
        if as_json:
            click.echo(json.dumps({"store": store, "ok": not problems, "problems": problems}, indent=1))
        else:
            for p in problems:
                click.echo(f"BROKEN {p}")
            click.echo(f"verify: {'OK' if not problems else f'{len(problems)} problem(s)'} ({store})")
        if problems:
            raise SystemExit(1)
        return
    if clip_id:
        stats = clip_stats(store, clip_id)
        click.echo(json.dumps(stats, indent=1) if as_json else format_clip_stats(stats))
        if png:
            click.echo(f"picture -> {draw_clip(store, clip_id, png)}", err=True)
        return
    s = summarize(store)
    click.echo(json.dumps(s, indent=1) if as_json else format_summary(s))


def register(group: click.Group) -> None:
    """Add this package's commands to the root group."""
    group.add_command(inspect_cmd)
