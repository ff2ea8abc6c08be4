"""The training package's commands: ``avemo train``, ``embed``, ``evaluate``, ``report``.

Each command only parses its options, builds the frozen config from params.yaml (flags
override) and calls the stage function. Registered under the ``avemo.commands`` entry points
(pyproject.toml). Stage modules are imported inside the commands that run them: they import
Keras, i.e. TensorFlow, which takes seconds that ``avemo --help`` and ``avemo report`` need not
pay (docs/architecture.md, import rules).
"""

from __future__ import annotations

import click

from avemo.cli import params_of
from avemo.features.config import StoreConfig
from avemo.params import section
from avemo.training.config import SCHEDULES, STRATEGIES, VARIANTS, EvalConfig, HeadsConfig, TrainConfig


def _cfg(ctx, heads: bool = False, **overrides):
    """The ``train`` section as TrainConfig, or (``heads``) the ``heads`` section as HeadsConfig."""
    if heads:
        return section(HeadsConfig, params_of(ctx), "heads", **overrides)
    return section(TrainConfig, params_of(ctx), "train", **overrides)


@click.command("train")
@click.option("--variant", type=click.Choice(VARIANTS), required=True, help="sequence head")
@click.option("--store", type=click.Path(exists=True, file_okay=False),
              help="store root holding faces/ and mfcc/ (end-to-end training)")
@click.option("--embeddings", type=click.Path(exists=True, file_okay=False),
              help="embeddings store from `avemo embed`: train the head only (defaults: the heads section)")
@click.option("--backbone", type=click.Path(exists=True, dir_okay=False),
              help="with --embeddings: the model whose backbone made them (default: the one they name)")
@click.option("--splits", type=click.Path(exists=True, dir_okay=False), required=True, help="splits.json")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="model file (.keras)")
@click.option("--history", type=click.Path(dir_okay=False), help="per-epoch history CSV")
@click.option("--epochs", type=int, help="maximum epochs of either schedule (default: train.epochs, 15; "
              "converge: train.converge_epochs)")
@click.option("--batch-size", type=int, help="batch size (default: train.batch_size, 16)")
@click.option("--lr", type=float, help="Adam learning rate of either schedule (default: train.lr, 1e-4; "
              "converge: train.converge_lr)")
@click.option("--seed", type=int, help="random seed (default: train.seed, 0)")
@click.option("--patience", type=int, help="early-stopping patience in epochs of either schedule "
              "(default: train.patience; converge: train.converge_patience)")
@click.option("--schedule", type=click.Choice(SCHEDULES),
              help="the paper's fixed settings or training to convergence (default: train.schedule, auto: "
              "the paper's on train.paper_min_clips training clips or more)")
@click.option("--stream/--in-memory", default=None,
              help="read clips from the shards while training, or load the splits into memory "
              "(default: train.stream, auto = in memory when it fits train.memory_gb)")
@click.option("--strategy", type=click.Choice(STRATEGIES),
              help="tf.distribute strategy (default: train.strategy, auto = MirroredStrategy on 2+ GPUs)")
@click.option("--cpu-devices", type=int, help="split the CPU into N logical devices (try `mirrored` without GPUs)")
@click.pass_context
def train_cmd(ctx, variant, store, embeddings, backbone, splits, out, history, epochs, batch_size, lr, seed,
              patience, schedule, stream, strategy, cpu_devices):
    """Train one variant end to end from the feature store (no video or audio is decoded), or with
    --embeddings only its head on a trained backbone's cached embeddings (seconds on a CPU)."""
    from avemo.training.train import train_variant

    if (store is None) == (embeddings is None):
        raise click.UsageError("give --store (end-to-end training) or --embeddings (head only), not both")
    cfg = _cfg(ctx, heads=embeddings is not None, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
               patience=patience, stream=stream, strategy=strategy, cpu_devices=cpu_devices, schedule=schedule,
               converge_epochs=epochs, converge_lr=lr, converge_patience=patience)
    if embeddings is not None:
        from avemo.training.heads import head_path, train_head

        r = train_head(variant, embeddings, splits, out, cfg, backbone=backbone, history_csv=history)
        click.echo(f"train {variant} head: {r.epochs_run} epoch(s), best {r.best_epoch} "
                   f"(val loss {min(r.history['val_loss']):.4f}) on {r.n_train} clips -> {head_path(out)}, "
                   f"assembled with its backbone -> {r.model_path}", err=True)
        return
    r = train_variant(variant, store, splits, out, cfg, history_csv=history)
    click.echo(f"train {variant}: input {r.input}", err=True)
    click.echo(f"train {variant}: schedule {r.schedule['name']} ({r.schedule['why']}): up to {r.schedule['epochs']} "
               f"epoch(s), lr {r.schedule['lr']:g}, batch {r.schedule['batch_size']}, patience {r.schedule['patience']}",
               err=True)
    click.echo(f"train {variant}: {r.epochs_run} epoch(s), best {r.best_epoch} "
               f"(val loss {min(r.history['val_loss']):.4f}) on {r.n_train} clips, {r.replicas} replica(s) "
               f"-> {r.model_path}", err=True)


@click.command("embed")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False), required=True,
              help="trained model (.keras) whose backbone embeds the clips")
@click.option("--store", type=click.Path(exists=True, file_okay=False), required=True,
              help="store root holding faces/ and mfcc/")
@click.option("--out", type=click.Path(file_okay=False), required=True, help="embeddings store folder")
@click.option("--batch-size", type=int, default=16, show_default=True,
              help="clips per backbone call (the same embeddings at any size; memory grows with it: "
                   "~2.7 GB at 16, ~8.3 GB at 64)")
@click.option("--shard-size", type=int, default=None, help="clips per shard (default: store.shard_size)")
@click.option("--force", is_flag=True, help="rebuild a store made by another backbone (else refused)")
@click.pass_context
def embed_cmd(ctx, model_path, store, out, batch_size, shard_size, force):
    """Run a trained model's backbone once over every clip: face_emb (50, 64) and audio_emb (9, 64)."""
    from avemo.training import backend
    from avemo.training.embed import embed_store

    backend.setup(0)
    store_cfg = section(StoreConfig, params_of(ctx), "store", shard_size=shard_size)
    r = embed_store(model_path, store, out, store_cfg, batch_size=batch_size, force=force)
    click.echo(f"embeddings: {r.stored} stored, {r.skipped} already stored, {r.failed} failed"
               f"{f' (see {out}/failures.csv)' if r.failed else ''} -> {out} ({r.store_clips} clips)", err=True)


@click.command("evaluate")
@click.option("--variant", type=click.Choice(VARIANTS), required=True)
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--store", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--splits", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="metrics JSON")
@click.option("--plots", type=click.Path(file_okay=False), required=True,
              help="folder for predictions.csv and the confusion matrix (CSV, JSON, PNG)")
@click.option("--split", default="test", show_default=True,
              help="split of --splits to score; all: every clip of it (a model on another corpus' store)")
@click.pass_context
def evaluate_cmd(ctx, variant, model_path, store, splits, out, plots, split):
    """Score a trained variant on a split, with actor-bootstrap intervals (params: eval).

    --store and --splits may be another corpus' (cross-corpus evaluation): its clips are put in
    the model's label space by label name; clips of labels the model lacks are counted and left out."""
    from avemo.training.evaluate import evaluate_variant

    r = evaluate_variant(model_path, store, splits, out, plots, split,
                         uncertainty=section(EvalConfig, params_of(ctx), "eval"))
    ci = r["interval"]["macro_f1"]
    interval = f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else " (no interval: one test actor)"
    corpora = (f" ({r['train_corpus']} model on {r['test_corpus']})"
               if r["train_corpus"] != r["test_corpus"] else "")
    click.echo(f"evaluate {variant}{corpora}: macro F1 {r['macro']['f1']:.3f}{interval}, accuracy "
               f"{r['accuracy']:.3f} on {r['n']} {'clips (every split)' if split == 'all' else split + ' clips'} of "
               f"{r['interval']['actors']} actors -> {out}",
               err=True)
    if r["unmapped"]:
        click.echo(f"evaluate {variant}: {r['unmapped']} clip(s) left out, their label is not the model's: "
                   + ", ".join(f"{k} {n}" for k, n in r["unmapped_labels"].items()), err=True)


@click.command("cv")
@click.option("--folds", "folds_dir", type=click.Path(exists=True, file_okay=False), required=True,
              help="folder of fold-N.json split records (`avemo split --folds K`)")
@click.option("--store", type=click.Path(exists=True, file_okay=False), required=True,
              help="store root holding faces/ and mfcc/")
@click.option("--out", type=click.Path(file_okay=False), required=True,
              help="folder of the cells (one model, metrics and predictions each; kept between runs)")
@click.option("--summary", type=click.Path(dir_okay=False), required=True, help="summary metrics JSON")
@click.pass_context
def cv_cmd(ctx, folds_dir, store, out, summary):
    """The protocol beyond one split: every variant on each of eval.folds actor-disjoint folds, for
    each of eval.seeds and eval.modalities (ablations); cells already made are kept."""
    from avemo.training.cv import run_protocol

    cfg = _cfg(ctx)
    evaluation = section(EvalConfig, params_of(ctx), "eval")
    r = run_protocol(folds_dir, store, out, summary, cfg.variants, cfg, evaluation)
    if not r["active"]:
        click.echo(f"cv: off ({r['note']}) -> {summary}", err=True)
        return
    click.echo(f"cv: {r['folds']} fold(s) x {len(r['seeds'])} seed(s) x {len(r['modalities'])} modality set(s); "
               f"{r['trained']} cell(s) trained, the others kept -> {summary}", err=True)
    for name, row in r["rows"].items():
        pooled = row["pooled_by_seed"][str(r["seeds"][0])]
        ci = pooled["interval"]["macro_f1"]
        click.echo(f"cv {name}: macro F1 over folds {row['fold_mean'][str(r['seeds'][0])]:.3f} "
                   f"+- {row['fold_std'][str(r['seeds'][0])]:.3f}; pooled {pooled['macro_f1']:.3f}"
                   + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "") + f" on {pooled['n']} clips", err=True)


@click.command("baseline")
@click.option("--store", type=click.Path(exists=True, file_okay=False), required=True,
              help="store root holding egemaps/ (`avemo extract egemaps`)")
@click.option("--splits", type=click.Path(exists=True, dir_okay=False), required=True, help="splits.json")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="metrics JSON to write")
@click.option("--plots", type=click.Path(file_okay=False), required=True, help="folder for predictions.csv")
@click.pass_context
def baseline_cmd(ctx, store, splits, out, plots):
    """The classical baseline: eGeMAPS functionals + a linear SVM on the same split (params: baseline)."""
    from avemo.training.baseline import BaselineConfig, run_baseline

    r = run_baseline(store, splits, out, plots, section(BaselineConfig, params_of(ctx), "baseline"),
                     section(EvalConfig, params_of(ctx), "eval"))
    if "skipped" in r:
        click.echo(f"baseline: {r['skipped']} -> {out}", err=True)
        return
    click.echo(f"baseline: eGeMAPS + linear SVM (C {r['baseline']['C']:g}): UAR {r['uar']:.3f}, macro F1 "
               f"{r['macro']['f1']:.3f}, accuracy {r['accuracy']:.3f} on {r['n']} test clips -> {out}", err=True)


@click.command("report")
@click.option("--metrics", "metrics_dir", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--splits", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--out", type=click.Path(file_okay=False), required=True, help="reports folder")
@click.option("--corpus-root", type=click.Path(), help="corpus folder (the demo corpus gets no human baseline)")
@click.option("--heads-metrics", type=click.Path(file_okay=False),
              help="metrics of head-only models, shown beside the end-to-end ones when present")
@click.option("--cv", "cv_summary", type=click.Path(dir_okay=False),
              help="`avemo cv`'s summary JSON: the folds, seeds and ablations section when the protocol ran")
@click.pass_context
def report_cmd(ctx, metrics_dir, splits, out, corpus_root, heads_metrics, cv_summary):
    """Table I (this run beside the paper), a bar chart, the crowd's votes as human baseline, and
    (--cv) the protocol's folds, seeds and ablations."""
    from avemo.training.report import format_table, make_report

    md = make_report(metrics_dir, splits, out, _cfg(ctx).variants, corpus_root, heads_dir=heads_metrics,
                     heads_backbone=_cfg(ctx, heads=True).backbone,
                     uncertainty=section(EvalConfig, params_of(ctx), "eval"), cv_summary=cv_summary)
    click.echo(format_table(md))
    click.echo(f"\nreport -> {md}", err=True)
