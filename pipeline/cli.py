"""The ``avemo`` command: one root group; each package contributes its own commands.

The CLI only parses arguments, builds the stage's frozen config and calls the stage function.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from pipeline import __version__
from pipeline.config import (CorpusConfig, DemoConfig, ManifestConfig, SplitConfig,
                             load_params, section)
from pipeline.errors import AvemoError

log = logging.getLogger("avemo")


class AvemoGroup(click.Group):
    """A click group that turns :class:`AvemoError` into a one-line error and exit code 1."""

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


@main.command("demo-corpus")
@click.option("--source", type=click.Path(exists=True, file_okay=False), default="tests/data/crema-d",
              show_default=True, help="folder with CREMA-D's six real 1001_DFA_*_XX clips")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="corpus folder to (re)create")
@click.option("--actors", type=int, default=None, help="pseudo-actors (default: demo.actors, 30)")
@click.option("--seed", type=int, default=None, help="jitter seed (default: demo.seed, 0)")
@click.option("-j", "--jobs", type=int, default=1, show_default=True, help="parallel processes (-1: all cores)")
@click.option("--if-corpus", "if_corpus", type=click.Path(),
              help="build only if this corpus root (DVC passes corpus.root) is --out; else write a "
              "placeholder, so that a CREMA-D run does no demo work")
@click.pass_context
def demo_corpus(ctx, source, out, actors, seed, jobs, if_corpus):
    """Build the demo corpus (a CREMA-D-shaped folder) from the six real clips."""
    from pipeline.demo import build_demo_corpus, write_unused_placeholder

    if if_corpus is not None and Path(if_corpus).resolve() != Path(out).resolve():
        note = write_unused_placeholder(out, if_corpus)
        click.echo(f"demo corpus: not built, corpus.root is {if_corpus} ({note})", err=True)
        return
    cfg = section(DemoConfig, params_of(ctx), "demo", actors=actors, seed=seed)
    clips = build_demo_corpus(source, out, cfg, jobs=jobs)
    click.echo(f"demo corpus: {len(clips)} clips of {cfg.actors} pseudo-actors -> {out}", err=True)


@main.command("manifest")
@click.option("--root", type=click.Path(), default=None,
              help="CREMA-D checkout (default: corpus.root in params.yaml)")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="manifest CSV to write")
@click.option("--exclude", multiple=True, help="clip id to leave out (repeatable; replaces manifest.exclude)")
@click.option("--no-exclude", is_flag=True, help="keep CREMA-D's documented broken clips")
@click.pass_context
def manifest(ctx, root, out, exclude, no_exclude):
    """Scan a CREMA-D-shaped folder into one CSV row per clip (no media is decoded)."""
    from pipeline.manifest import scan_corpus, write_manifest

    params = params_of(ctx)
    root = root or section(CorpusConfig, params, "corpus").root
    cfg = section(ManifestConfig, params, "manifest",
                  exclude=() if no_exclude else (tuple(exclude) or None))
    result = scan_corpus(root, cfg)
    path, rejected = write_manifest(result, root, out)
    click.echo(f"manifest: {len(result.rows)} clips from {len(result.actors)} actors -> {path}", err=True)
    if result.excluded:
        click.echo(f"manifest: {len(result.excluded)} clip(s) excluded by manifest.exclude: "
                   f"{', '.join(result.excluded)}", err=True)
    if result.rejected:
        click.echo(f"manifest: {len(result.rejected)} file(s) rejected (reasons in {rejected}); "
                   f"first: {result.rejected[0]['file']}: {result.rejected[0]['reason']}", err=True)
    if not result.rows:
        raise click.ClickException(f"no clip found under {root}")


@main.command("split")
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False), help="manifest CSV")
@click.option("--out", type=click.Path(dir_okay=False), help="split JSON to write")
@click.option("--test-actors", type=int, default=None, help="actors in the test split (default 10)")
@click.option("--val-actors", type=int, default=None, help="actors in the validation split (default 10)")
@click.option("--seed", type=int, default=None, help="random seed (default 0)")
@click.option("--stratify", type=click.Choice(["sex", "none"]), default=None,
              help="balance held-out actors by sex (default: sex)")
@click.option("--check", is_flag=True, help="audit FILES (our JSON, or one CSV of clip names per split) "
              "for actors in more than one split; exit 1 on leakage")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def split(ctx, manifest_path, out, test_actors, val_actors, seed, stratify, check, files):
    """Make an actor-disjoint train/val/test split, or audit split files with --check."""
    from pipeline.split import check_leakage, load_split_files, make_split, write_split

    if check:
        if not files:
            raise click.UsageError("--check needs one or more split files")
        splits = load_split_files(list(files))
        for name, clips in splits.items():
            click.echo(f"{name}: {len(clips)} clips, {len({c[:4] for c in clips})} actors")
        leaks = check_leakage(splits)
        if leaks:
            click.echo(f"LEAKAGE: {len(leaks)} actor(s) appear in more than one split:")
            for actor, counts in leaks.items():
                click.echo(f"  actor {actor}: " + ", ".join(f"{s} {n} clips" for s, n in counts.items()))
            ctx.exit(1)
        click.echo("no speaker leakage: every actor is in exactly one split")
        return
    if files or not manifest_path or not out:
        raise click.UsageError("give --manifest and --out (or --check FILES)")
    from pipeline.manifest import read_manifest

    cfg = section(SplitConfig, params_of(ctx), "split", test_actors=test_actors,
                  val_actors=val_actors, seed=seed, stratify=stratify)
    doc = make_split(read_manifest(manifest_path), cfg)
    write_split(doc, out)
    for name, s in doc["splits"].items():
        click.echo(f"split {name}: {len(s['actors'])} actors, {s['n_clips']} clips", err=True)


@main.group("extract")
def extract():
    """Extract features of every manifest clip into a feature store (resumable)."""


def _extraction_options(f):
    f = click.option("--scheduler", envvar="AVEMO_SCHEDULER", metavar="tcp://HOST:PORT",
                     help="dask scheduler to run clips on (implies --backend dask; env AVEMO_SCHEDULER)")(f)
    f = click.option("--backend", type=click.Choice(["local", "dask"]), envvar="AVEMO_BACKEND",
                     help="where clips run: local processes (default) or a dask.distributed cluster "
                     "(a LocalCluster of -j processes unless --scheduler); env AVEMO_BACKEND")(f)
    f = click.option("--summary", type=click.Path(dir_okay=False),
                     help="write the run's counts as JSON (a DVC metric)")(f)
    f = click.option("--force", is_flag=True,
                     help="rebuild a store that was written with other params (else refused)")(f)
    f = click.option("--shard-size", type=int, default=None, help="clips per shard (default: store.shard_size, 500)")(f)
    f = click.option("-j", "--jobs", type=int, default=1, show_default=True,
                     help="parallel worker processes (-1: all cores)")(f)
    f = click.option("--out", type=click.Path(file_okay=False), required=True, help="store folder")(f)
    f = click.option("--manifest", "manifest_path", type=click.Path(exists=True, dir_okay=False),
                     required=True, help="manifest CSV from `avemo manifest`")(f)
    return f


def _run_extraction(ctx, extractor, manifest_path, out, jobs, shard_size, force, summary, backend, scheduler):
    import json as _json

    from pipeline.config import StoreConfig
    from pipeline.extract import run_extraction
    from pipeline.manifest import read_manifest

    store = section(StoreConfig, params_of(ctx), "store", shard_size=shard_size)
    if scheduler and backend == "local":
        raise click.UsageError("--scheduler runs clips on a dask cluster: drop --backend local")
    backend = "dask" if scheduler else (backend or "local")
    report = run_extraction(read_manifest(manifest_path), out, extractor, store, jobs=jobs, force=force,
                            backend=backend, scheduler=scheduler)
    kinds = ", ".join(f"{k}: {v}" for k, v in sorted(report.failures_by_kind.items()))
    click.echo(f"{extractor.modality}: {report.stored} stored, {report.skipped} already stored, "
               f"{report.failed} failed{f' ({kinds}; see {out}/failures.csv)' if report.failed else ''}"
               f" -> {out} ({report.store_clips} clips)", err=True)
    if summary:
        Path(summary).parent.mkdir(parents=True, exist_ok=True)
        Path(summary).write_text(_json.dumps(report.to_dict(), indent=1) + "\n")
    if report.total and report.stored + report.skipped == 0:
        raise click.ClickException(f"no clip could be processed; reasons in {out}/failures.csv")


@extract.command("mfcc")
@_extraction_options
@click.pass_context
def extract_mfcc(ctx, manifest_path, out, jobs, shard_size, force, summary, backend, scheduler):
    """The paper's MFCC windows, (9, 40, 40) float32 per clip (params: the mfcc section)."""
    from pipeline.config import MfccConfig
    from pipeline.extract import MfccExtractor

    cfg = section(MfccConfig, params_of(ctx), "mfcc")
    _run_extraction(ctx, MfccExtractor(cfg), manifest_path, out, jobs, shard_size, force, summary,
                    backend, scheduler)


@extract.command("faces")
@_extraction_options
@click.pass_context
def extract_faces(ctx, manifest_path, out, jobs, shard_size, force, summary, backend, scheduler):
    """dlib face crops: 50 frames of 64x64 RGB per clip, boxes and detection flags (params: faces)."""
    from pipeline.config import FaceConfig
    from pipeline.extract import FaceExtractor

    cfg = section(FaceConfig, params_of(ctx), "faces")
    _run_extraction(ctx, FaceExtractor(cfg), manifest_path, out, jobs, shard_size, force, summary,
                    backend, scheduler)


def _register_package_commands() -> None:
    from features.cli import register as register_features

    register_features(main)
    from training.cli import register as register_training

    register_training(main)


_register_package_commands()
