"""The pipeline's commands: ``avemo demo-corpus``, ``manifest``, ``split``, ``extract``, ``inspect``.

Each command only parses its options, builds the stage's frozen config from params.yaml
(flags override) and calls the stage function. Registered under the ``avemo.commands`` entry
points (pyproject.toml).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from avemo.cli import params_of
from avemo.features.config import StoreConfig
from avemo.features.inspect import clip_stats, draw_clip, format_clip_stats, format_summary, summarize
from avemo.features.inspect import verify as verify_store
from avemo.fileio import atomic_write
from avemo.params import jobs_of, section
from avemo.pipeline.config import (CORPUS_KINDS, CorpusConfig, DemoConfig, EgemapsConfig, FaceConfig, ManifestConfig,
                                   MfccConfig, SplitConfig)
from avemo.pipeline.corpora import scan_corpus
from avemo.pipeline.demo import build_demo_corpus, build_rehearsal_corpus, write_unused_placeholder
from avemo.pipeline.extract import EgemapsExtractor, FaceExtractor, MfccExtractor, run_extraction
from avemo.pipeline.manifest import read_labels, read_manifest, write_manifest
from avemo.pipeline.split import (TEST_ONLY, check_folds, check_leakage, fold_path, load_split_files, make_folds,
                                  make_split, speaker_finder)
from avemo.pipeline.video import source_frames
from avemo.splits import LOSO, write_splits


@click.command("demo-corpus")
@click.option("--source", type=click.Path(exists=True, file_okay=False), default="tests/data/crema-d",
              show_default=True, help="folder with CREMA-D's six real 1001_DFA_*_XX clips")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="corpus folder to (re)create")
@click.option("--actors", type=int, default=None, help="pseudo-actors (default: demo.actors, 30)")
@click.option("--seed", type=int, default=None, help="jitter seed (default: demo.seed, 0)")
@click.option("-j", "--jobs", type=int, default=None,
              help="parallel processes (-1: all cores; default: the jobs param, else 1)")
@click.option("--full", is_flag=True,
              help="a CREMA-D-sized rehearsal corpus instead: every real clip name (7,442), the real "
              "actors, one render per actor and emotion hard-linked under its names")
@click.option("--if-corpus", "if_corpus", type=click.Path(),
              help="build only if this corpus root (DVC passes corpus.root) is --out; else write a "
              "placeholder, so that a CREMA-D run does no demo work")
@click.pass_context
def demo_corpus(ctx, source, out, actors, seed, jobs, full, if_corpus):
    """Build the demo corpus (a CREMA-D-shaped folder) from the six real clips."""
    jobs = jobs_of(params_of(ctx), jobs)
    if full:
        if actors is not None or if_corpus is not None:
            raise click.UsageError("--full builds every CREMA-D clip name: drop --actors / --if-corpus")
        cfg = section(DemoConfig, params_of(ctx), "demo", seed=seed)
        names = build_rehearsal_corpus(source, out, cfg.seed, jobs=jobs)
        click.echo(f"rehearsal corpus: {len(names)} clips of {len({n[:4] for n in names})} actors -> {out}", err=True)
        return

    if if_corpus is not None and Path(if_corpus).resolve() != Path(out).resolve():
        note = write_unused_placeholder(out, if_corpus)
        click.echo(f"demo corpus: not built, corpus.root is {if_corpus} ({note})", err=True)
        return
    cfg = section(DemoConfig, params_of(ctx), "demo", actors=actors, seed=seed)
    clips = build_demo_corpus(source, out, cfg, jobs=jobs)
    click.echo(f"demo corpus: {len(clips)} clips of {cfg.actors} pseudo-actors -> {out}", err=True)


@click.command("manifest")
@click.option("--root", type=click.Path(), default=None,
              help="the corpus folder (default: corpus.root in params.yaml)")
@click.option("--corpus", "kind", type=click.Choice(CORPUS_KINDS), default=None,
              help="corpus kind (default: corpus.kind in params.yaml, else crema-d)")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="manifest CSV to write")
@click.option("--exclude", multiple=True, help="clip id to leave out (repeatable; replaces manifest.exclude)")
@click.option("--no-exclude", is_flag=True, help="keep CREMA-D's documented broken clips")
@click.pass_context
def manifest(ctx, root, kind, out, exclude, no_exclude):
    """Scan a corpus into one CSV row per clip: label, speaker, sex, media (no media is decoded).
    Writes OUT, OUT's .rejected.csv (every file left out, with the reason) and .labels.json."""
    params = params_of(ctx)
    corpus = section(CorpusConfig, params, "corpus", root=root, kind=kind)
    cfg = section(ManifestConfig, params, "manifest",
                  exclude=() if no_exclude else (tuple(exclude) or None))
    result = scan_corpus(corpus.root, cfg, corpus)
    path, rejected = write_manifest(result, corpus.root, out)
    counts = {label: sum(r.emotion == label for r in result.rows) for label in result.labels}
    click.echo(f"manifest: {len(result.rows)} clips from {len(result.actors)} actors ({corpus.kind}) -> {path}", err=True)
    click.echo("manifest: labels " + ", ".join(f"{k} {n}" for k, n in counts.items()), err=True)
    if result.excluded:
        click.echo(f"manifest: {len(result.excluded)} clip(s) excluded by manifest.exclude: "
                   f"{', '.join(result.excluded)}", err=True)
    if result.rejected:
        click.echo(f"manifest: {len(result.rejected)} file(s) rejected (reasons in {rejected}); "
                   f"first: {result.rejected[0]['file']}: {result.rejected[0]['reason']}", err=True)
    if not result.rows:
        raise click.ClickException(f"no clip found under {corpus.root} (corpus.kind {corpus.kind})")


@click.command("split")
@click.option("--manifest", "manifest_path", type=click.Path(dir_okay=False),
              help="manifest CSV (with --check: where the clips' speakers come from)")
@click.option("--out", type=click.Path(dir_okay=False), help="split JSON to write")
@click.option("--test-actors", type=int, default=None,
              help="actors in the test split (default: split.test_actors; auto: the corpus kind's, "
              "e.g. CREMA-D 10, RAVDESS 4)")
@click.option("--val-actors", type=int, default=None, help="actors in the validation split (default: split.val_actors)")
@click.option("--seed", type=int, default=None, help="random seed (default 0)")
@click.option("--stratify", type=click.Choice(["sex", "none"]), default=None,
              help="balance held-out actors by sex (default: sex)")
@click.option("--folds", type=str, default=None,
              help="write K actor-disjoint cross-validation folds into the folder --out (fold-0.json ...; "
              "every actor in one test fold; 1: the single split; loso: leave one speaker out, a fold per speaker)")
@click.option("--check", is_flag=True, help="audit FILES (our JSON, or one CSV of clip ids per split) "
              "for actors in more than one split (each JSON on its own; k-fold records also for "
              "every actor in exactly one test fold); exit 1 on leakage")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def split(ctx, manifest_path, out, test_actors, val_actors, seed, stratify, folds, check, files):
    """Make an actor-disjoint train/val/test split (or K folds), or audit split files with --check."""

    if check:
        if not files:
            raise click.UsageError("--check needs one or more split files")
        rows = read_manifest(manifest_path) if manifest_path else None
        groups, recorded, records = load_split_files(list(files), {r.clip_id for r in rows or ()})
        speaker = speaker_finder(rows, recorded)
        leaked = False
        for group, splits in groups.items():
            prefix = f"{group}: " if len(groups) > 1 else ""
            for name, clips in splits.items():
                click.echo(f"{prefix}{name}: {len(clips)} clips, {len({speaker(c) for c in clips})} actors")
            leaks = check_leakage(splits, speaker)
            if leaks:
                leaked = True
                click.echo(f"LEAKAGE{' in ' + group if len(groups) > 1 else ''}: {len(leaks)} actor(s) appear "
                           "in more than one split:")
                for actor, counts in leaks.items():
                    click.echo(f"  actor {actor}: " + ", ".join(f"{s} {n} clips" for s, n in counts.items()))
        problems = check_folds(records)
        for problem in problems:
            click.echo(f"FOLDS: {problem}")
        if leaked or problems:
            ctx.exit(1)
        click.echo("no speaker leakage: every actor is in exactly one split"
                   + (" of each file" if len(groups) > 1 else "")
                   + ("; every actor is in exactly one test fold" if any("folds" in r.params for r in records) else ""))
        return
    if files or not manifest_path or not out:
        raise click.UsageError("give --manifest and --out (or --check FILES)")

    cfg = section(SplitConfig, params_of(ctx), "split", test_actors=test_actors,
                  val_actors=val_actors, seed=seed, stratify=stratify)
    kind, labels = read_labels(manifest_path)
    rows = read_manifest(manifest_path)
    if folds is None:
        splits = make_split(rows, cfg, labels, kind)
        write_splits(splits, out)
        for name, part in splits.parts.items():
            click.echo(f"split {name}: {len(part.actors)} actors, {part.n_clips} clips", err=True)
        if splits.method == TEST_ONLY:
            click.echo(f"split: {len(splits.parts['test'].actors)} speaker(s) only: {TEST_ONLY}", err=True)
        return
    if folds != LOSO:
        try:
            folds = int(folds)
        except ValueError:
            raise click.BadParameter(f"{folds!r} is neither a number of folds nor {LOSO}", param_hint="--folds") from None
    records = make_folds(rows, folds, cfg, labels, kind)
    problems = check_folds(records) + [f"fold {i}: actor {a} in {', '.join(c)}" for i, r in enumerate(records)
                                       for a, c in check_leakage({n: list(p.clips) for n, p in r.parts.items()},
                                                                 speaker_finder(rows)).items()]
    if problems:  # never written: a bug, not a user error
        raise click.ClickException("internal: the folds are not actor-disjoint and complete: " + "; ".join(problems))
    Path(out).mkdir(parents=True, exist_ok=True)
    for stale in Path(out).glob("fold-*.json"):
        stale.unlink()
    for i, record in enumerate(records):
        write_splits(record, fold_path(out, i))
        click.echo(f"fold {i}: " + ", ".join(f"{name} {len(p.actors)} actors / {p.n_clips} clips"
                                             for name, p in record.parts.items()), err=True)


@click.group("extract")
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
    f = click.option("-j", "--jobs", type=int, default=None,
                     help="parallel worker processes (-1: all cores; default: the jobs param, else 1)")(f)
    f = click.option("--out", type=click.Path(file_okay=False), required=True, help="store folder")(f)
    f = click.option("--manifest", "manifest_path", type=click.Path(exists=True, dir_okay=False),
                     required=True, help="manifest CSV from `avemo manifest`")(f)
    return f


def _run_extraction(ctx, extractor, manifest_path, out, jobs, shard_size, force, summary, backend, scheduler):
    store = section(StoreConfig, params_of(ctx), "store", shard_size=shard_size)
    if scheduler and backend == "local":
        raise click.UsageError("--scheduler runs clips on a dask cluster: drop --backend local")
    backend = "dask" if scheduler else (backend or "local")
    jobs = jobs_of(params_of(ctx), jobs)
    report = run_extraction(read_manifest(manifest_path), out, extractor, store, jobs=jobs, force=force,
                            backend=backend, scheduler=scheduler)
    if report.note:
        click.echo(f"{extractor.modality}: {report.note}", err=True)
    kinds = ", ".join(f"{k}: {v}" for k, v in sorted(report.failures_by_kind.items()))
    click.echo(f"{extractor.modality}: {report.stored} stored, {report.skipped} already stored, "
               f"{report.failed} failed{f' ({kinds}; see {out}/failures.csv)' if report.failed else ''}"
               f" -> {out} ({report.store_clips} clips)", err=True)
    for what, count in sorted(report.flagged.items()):
        click.echo(f"{extractor.modality}: {count} stored clip(s) with {what} (see `avemo inspect {out} "
                   f"--clip ID --png`)", err=True)
    if summary:
        atomic_write(summary, json.dumps(report.to_dict(), indent=1) + "\n")
    if report.total and report.stored + report.skipped == 0:
        raise click.ClickException(f"no clip could be processed; reasons in {out}/failures.csv")


@extract.command("mfcc")
@_extraction_options
@click.pass_context
def extract_mfcc(ctx, manifest_path, out, jobs, shard_size, force, summary, backend, scheduler):
    """The paper's MFCC windows, (9, 40, 40) float32 per clip (params: the mfcc section)."""
    cfg = section(MfccConfig, params_of(ctx), "mfcc")
    _run_extraction(ctx, MfccExtractor(cfg), manifest_path, out, jobs, shard_size, force, summary,
                    backend, scheduler)


@extract.command("egemaps")
@_extraction_options
@click.pass_context
def extract_egemaps(ctx, manifest_path, out, jobs, shard_size, force, summary, backend, scheduler):
    """openSMILE's eGeMAPS v02 functionals, (88,) float32 per clip, for the classical baseline
    (params: the egemaps section; needs the egemaps extra)."""
    cfg = section(EgemapsConfig, params_of(ctx), "egemaps")
    _run_extraction(ctx, EgemapsExtractor(cfg), manifest_path, out, jobs, shard_size, force, summary,
                    backend, scheduler)


@extract.command("faces")
@_extraction_options
@click.pass_context
def extract_faces(ctx, manifest_path, out, jobs, shard_size, force, summary, backend, scheduler):
    """dlib face crops: 50 frames of 64x64 RGB per clip, boxes and detection flags (params: faces)."""
    cfg = section(FaceConfig, params_of(ctx), "faces")
    _run_extraction(ctx, FaceExtractor(cfg), manifest_path, out, jobs, shard_size, force, summary,
                    backend, scheduler)


@click.command("inspect")
@click.argument("store", type=click.Path(exists=True, file_okay=False))
@click.option("--clip", "clip_id", help="print this clip's array statistics")
@click.option("--png", type=click.Path(dir_okay=False), help="draw the clip (needs --clip) to this PNG")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--verify", is_flag=True, help="re-read every shard; exit 1 naming any broken file")
def inspect_cmd(store, clip_id, png, as_json, verify):
    """Summarise a feature store, one clip of it (--clip, --png), or verify it."""
    # A pipeline command (not the store package's): a faces picture shows the clip's source
    # frames, which only the pipeline can decode.
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
            click.echo(f"picture -> {draw_clip(store, clip_id, png, source_frames)}", err=True)
        return
    s = summarize(store)
    click.echo(json.dumps(s, indent=1) if as_json else format_summary(s))
