"""Commands of the training package: ``avemo train``, ``avemo evaluate``, ``avemo report``."""

from __future__ import annotations

import click

from training.config import VARIANTS


def _cfg(ctx, **overrides):
    from pipeline.cli import params_of
    from pipeline.config import section
    from training.config import TrainConfig

    return section(TrainConfig, params_of(ctx), "train", **overrides)


@click.command("train")
@click.option("--variant", type=click.Choice(VARIANTS), required=True, help="sequence head")
@click.option("--store", type=click.Path(exists=True, file_okay=False), required=True,
              help="store root holding faces/ and mfcc/")
@click.option("--splits", type=click.Path(exists=True, dir_okay=False), required=True, help="splits.json")
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="model file (.keras)")
@click.option("--history", type=click.Path(dir_okay=False), help="per-epoch history CSV")
@click.option("--epochs", type=int, help="maximum epochs (default: train.epochs, 15)")
@click.option("--batch-size", type=int, help="batch size (default: train.batch_size, 16)")
@click.option("--lr", type=float, help="Adam learning rate (default: train.lr, 1e-4)")
@click.option("--seed", type=int, help="random seed (default: train.seed, 0)")
@click.option("--patience", type=int, help="early-stopping patience in epochs (default: train.patience)")
@click.option("--stream/--in-memory", default=None, help="read clips from the shards while training")
@click.option("--corpus-root", type=click.Path(),
              help="corpus the store was made from; on the demo corpus epochs are capped at "
              "train.demo_epochs (unless --epochs is given)")
@click.pass_context
def train_cmd(ctx, variant, store, splits, out, history, epochs, batch_size, lr, seed, patience, stream,
              corpus_root):
    """Train one variant end to end from the feature store (no video or audio is decoded)."""
    from training.train import train_variant

    cfg = _cfg(ctx, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, patience=patience, stream=stream)
    if epochs is None:
        capped = cfg.for_corpus(corpus_root)
        if capped.epochs != cfg.epochs:
            click.echo(f"train {variant}: demo corpus, at most {capped.epochs} epoch(s) "
                       f"(train.demo_epochs; train.epochs {cfg.epochs} applies to real corpora)", err=True)
        cfg = capped
    r = train_variant(variant, store, splits, out, cfg, history_csv=history)
    click.echo(f"train {variant}: {r.epochs_run} epoch(s), best {r.best_epoch} "
               f"(val loss {min(r.history['val_loss']):.4f}) on {r.n_train} clips -> {r.model_path}", err=True)


@click.command("evaluate")
@click.option("--variant", type=click.Choice(VARIANTS), required=True)
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--store", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--splits", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="metrics JSON")
@click.option("--plots", type=click.Path(file_okay=False), required=True,
              help="folder for predictions.csv and the confusion matrix (CSV, JSON, PNG)")
@click.option("--split", default="test", show_default=True)
def evaluate_cmd(variant, model_path, store, splits, out, plots, split):
    """Score a trained variant on the test split."""
    from training.evaluate import evaluate_variant

    r = evaluate_variant(model_path, store, splits, out, plots, split)
    click.echo(f"evaluate {variant}: macro F1 {r['macro']['f1']:.3f}, accuracy {r['accuracy']:.3f} "
               f"on {r['n']} {split} clips -> {out}", err=True)


@click.command("report")
@click.option("--metrics", "metrics_dir", type=click.Path(exists=True, file_okay=False), required=True)
@click.option("--splits", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option("--out", type=click.Path(file_okay=False), required=True, help="reports folder")
@click.option("--corpus-root", type=click.Path(), help="corpus folder (the demo corpus gets no human baseline)")
@click.pass_context
def report_cmd(ctx, metrics_dir, splits, out, corpus_root):
    """Table I (this run beside the paper), a bar chart, and the crowd's votes as human baseline."""
    from training.report import format_table, make_report

    md = make_report(metrics_dir, splits, out, _cfg(ctx).variants, corpus_root)
    click.echo(format_table(md))
    click.echo(f"\nreport -> {md}", err=True)


def register(group: click.Group) -> None:
    """Add this package's commands to the root group."""
    for cmd in (train_cmd, evaluate_cmd, report_cmd):
        group.add_command(cmd)
