"""``avemo predict``: a trained model on videos (files, folders, or ``-`` for a list on stdin).

The command parses options and calls the predictor; the model and feature modules (Keras, i.e.
TensorFlow) are imported when it runs, as the training commands do (docs/architecture.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from avemo.cli import params_of
from avemo.params import section
from avemo.pipeline.media import AUDIO_EXTS
from avemo.predict.config import PredictConfig

#: What a folder input contributes: every file with one of these extensions, below it.
VIDEO_EXTS = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".flv", ".webm", ".mpg", ".mpeg", ".wmv")


def expand_inputs(inputs: tuple[str, ...], stdin=None, exts: tuple[str, ...] = VIDEO_EXTS) -> list[Path]:
    """Files as given, folders as every file below them with one of ``exts`` (videos; for an
    audio-only model also audio files), sorted, ``-`` as one path per line of stdin; UsageError
    naming an input that is none of these."""
    paths: list[Path] = []
    for item in inputs:
        if item == "-":
            paths += [Path(line.strip()) for line in (stdin or sys.stdin) if line.strip()]
        elif Path(item).is_dir():
            found = sorted(p for p in Path(item).rglob("*") if p.is_file() and p.suffix.lower() in exts)
            if not found:
                raise click.UsageError(f"{item} holds no {'video' if exts == VIDEO_EXTS else 'media'} file "
                                       f"({', '.join(exts)})")
            paths += found
        else:
            paths.append(Path(item))  # missing or unreadable files fail one by one, named
    return paths


@click.command("predict")
@click.option("--model", "model_path", type=click.Path(exists=True, dir_okay=False), required=True,
              help="trained model (.keras, with its .json sidecar)")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--out", type=click.Path(dir_okay=False),
              help="results file: .csv (one row per input) or .json (with timelines); default: a table on stdout")
@click.option("--timelines", type=click.Path(file_okay=False),
              help="folder for long recordings' timelines (CSV + PNG); default: OUT's stem + '.timelines', "
              "else ./predictions.timelines")
@click.option("--audio-dir", type=click.Path(exists=True, file_okay=False),
              help="folder holding each video's audio as STEM.wav (e.g. CREMA-D's AudioWAV); default: a "
              "same-named WAV beside the video, else its own audio track")
@click.option("--silent-audio", is_flag=True,
              help="a file without audio gets silence as its audio input (flagged) instead of failing")
@click.option("--window", type=float, help="window length for long recordings, s (default: predict.window)")
@click.option("--hop", type=float, help="step between windows, s (default: predict.hop)")
@click.pass_context
def predict_cmd(ctx, model_path, inputs, out, timelines, audio_dir, silent_audio, window, hop):
    """Predict the emotion of each input video (or audio file, with an audio-only model) with a trained model: the label and every class'
    probability; recordings longer than predict.window get a timeline of windows.
    Exit 1 when any input failed (each failure is named; the others are predicted)."""
    from tqdm import tqdm

    from avemo.errors import AvemoError
    from avemo.predict.model import Predictor
    from avemo.predict.output import timeline_name, write_results, write_timeline
    from avemo.predict.results import FileResult

    cfg = section(PredictConfig, params_of(ctx), "predict", window=window, hop=hop)
    predictor = Predictor(model_path, cfg)
    audio_only = predictor.faces is None
    files = expand_inputs(inputs, exts=VIDEO_EXTS + AUDIO_EXTS if audio_only else VIDEO_EXTS)
    folder = Path(timelines) if timelines else (Path(out).with_suffix(".timelines") if out
                                                else Path("predictions.timelines"))
    results, taken = [], set()
    for path in tqdm(files, desc="predict", unit="file", disable=len(files) < 2):
        wav = Path(audio_dir) / f"{path.stem}.wav" if audio_dir else None
        try:
            result = predictor.predict(path, wav if wav is not None and wav.is_file() else None, silent_audio)
        except AvemoError as exc:
            result = FileResult(str(path), error=str(exc))
            click.echo(f"predict: {exc}", err=True)
        if result.timeline:
            table, png = write_timeline(result, predictor.labels, folder, timeline_name(result.path, taken))
            click.echo(f"predict: {path}: {len(result.timeline)} windows -> {table}, {png}", err=True)
        results.append(result)
    if out:
        click.echo(f"predict: {sum(r.ok for r in results)} of {len(results)} input(s) -> "
                   f"{write_results(results, predictor.labels, model_path, out)}", err=True)
    else:
        for r in results:
            p = r.probabilities
            click.echo(f"{r.path}\t{r.label or '-'}\t" + " ".join(f"{k}={v:.3f}" for k, v in p.items())
                       + (f"\t{'; '.join(r.flags)}" if r.flags else "") + (f"\tFAILED: {r.error}" if r.error else ""))
    if not all(r.ok for r in results):
        ctx.exit(1)
