"""`train vision|speech|synth`, `quantize`, `sweep` and `data audit`: the training
pipelines of protobrain/train/ on the command line. TensorFlow is imported only when one runs.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import click
import numpy as np
from rich.table import Table

from protobrain.cli.options import KERNELS, OPTIMIZE, SEEDS, FloatRange, IntRange, console
from protobrain.errors import ProtobrainError
from protobrain.train import speech, vision
from protobrain.train.audit import flip_labels, held_out_losses, picture
from protobrain.train.classifier import TrainConfig, evaluate
from protobrain.train.nets import WIDTH_RANGE, dscnn, vision_net
from protobrain.train.quantize import to_tflite
from protobrain.train.run import Run
from protobrain.train.sweep import markdown, run_sweep, sweep_tier
from protobrain.train.synth import SMALL, SMALL_WAVENET, SynthConfig, recognize, say, train_synth, write_wavs

_WIDTH = click.option("--width", default=1.0, show_default=True, type=FloatRange(0.25, 2.0),
                      help="Width multiplier: scales the channels of every layer.")
_SEED = click.option("--seed", default=0, show_default=True, type=SEEDS, help="Same seed, same data split and same model.")
_EPOCHS = click.option("--epochs", type=IntRange(1, 10000), default=None,
                       help="Training epochs (default: the task's own).")
_QUIET = click.option("--quiet", is_flag=True, help="No progress bars.")


def _needs_tensorflow() -> None:
    # heavy and optional (protobrain[train]): found, not imported (which takes 5-20 s), since a
    # sweep on Ray trains in its workers and never needs it here
    if importlib.util.find_spec("tensorflow") is None:
        raise ProtobrainError("training needs TensorFlow: pip install 'protobrain[train]'")


def _config(width, seed, epochs, quiet, default_epochs, mode="int8"):
    return TrainConfig(width=width, seed=seed, epochs=epochs or default_epochs, mode=mode, progress=not quiet)


def _print_scores(result, title: str) -> None:
    mode = result.run.info["mode"]
    table = Table(title=title, title_justify="left")
    for col in ("held-out set", "examples", "float", f"{mode} (generated C)", "change"):
        table.add_column(col, justify="left" if col == "held-out set" else "right")
    for name, s in result.scores.items():
        n = result.run.info.get("sizes", {}).get(name, "")
        table.add_row(name, f"{n:,}" if n != "" else "", f"{s.float_acc:.2%}", f"{s.quant_acc:.2%}",
                      f"{100 * (s.quant_acc - s.float_acc):+.2f} pt")
    console.print(table)
    console.print(f"wrote {result.run.path}/ (model.keras, model.tflite, run.json)")


@click.group()
def train():
    """Train one of a protobrain's nets and quantize it (needs protobrain[train])."""


@train.command("vision")
@click.option("--data", "data_dir", type=click.Path(file_okay=False),
              help="Folder with one subfolder of images (PNG/JPEG) per class. Default: scikit-learn's digits.")
@click.option("-o", "--output", "out_dir", default="runs/vision", show_default=True, type=click.Path(file_okay=False))
@_WIDTH
@_EPOCHS
@_SEED
@_QUIET
def train_vision_cmd(data_dir, out_dir, width, epochs, seed, quiet):
    """A small ConvNet image classifier; prints float and int8 accuracy on held-out images."""
    _needs_tensorflow()
    ds = vision.load(data_dir)
    result = vision.train_vision(ds, _config(width, seed, epochs, quiet, 40), out_dir)
    _print_scores(result, f"vision: {len(ds):,} images, {len(ds.classes)} classes, input {ds.input_shape}")


@train.command("speech")
@click.option("--data", "data_dir", type=click.Path(file_okay=False),
              help="Folder with one subfolder of WAV files per keyword. Default: keywords spoken by espeak-ng.")
@click.option("--size", type=click.Choice(["full", "small"]), default="full", show_default=True,
              help="espeak dataset size: full (every accent and voice) or small (a quick look).")
@click.option("-o", "--output", "out_dir", default="runs/speech", show_default=True, type=click.Path(file_okay=False))
@_WIDTH
@_EPOCHS
@_SEED
@_QUIET
def train_speech_cmd(data_dir, size, out_dir, width, epochs, seed, quiet):
    """A DS-CNN keyword spotter on integer log-mel features; prints float and int8 accuracy on
    held-out accents and voice families (and in-distribution, for comparison)."""
    _needs_tensorflow()
    data = speech.load(data_dir, seed=seed, progress=not quiet, cfg=speech.SMALL if size == "small" else None)
    result = speech.train_speech(data, _config(width, seed, epochs, quiet, 12 if size == "full" else 30), out_dir)
    _print_scores(result, f"speech: {len(data.train):,} training examples (with augmentation), "
                          f"{len(data.train.classes)} classes")


@train.command("synth")
@click.option("-o", "--output", "out_dir", default="runs/synth", show_default=True, type=click.Path(file_okay=False))
@click.option("--steps", type=IntRange(1, 1_000_000), default=None,
              help="Optimiser steps (default: 3000 full, 80 small).")
@click.option("--size", type=click.Choice(["full", "small"]), default="full", show_default=True,
              help="full: the vocoder on 40 words; small: a tiny net on 3 words (a quick look).")
@click.option("--architecture", type=click.Choice(["window_mlp", "wavenet"]), default="window_mlp", show_default=True,
              help="window_mlp: an MLP over the last samples, sized for a Cortex-M4; wavenet: a 10-layer "
                   "gated dilated stack (about 60,000 MACs per sample).")
@click.option("--mode", type=click.Choice(["int8", "16x8"]), default="int8", show_default=True,
              help="Quantization of the per-step model (16x8: wavenet only).")
@click.option("--speech", "speech_run", type=click.Path(file_okay=False, exists=True),
              help="A `train speech` run: check that it hears each generated keyword as that keyword.")
@_SEED
@_QUIET
def train_synth_cmd(out_dir, steps, size, architecture, mode, speech_run, seed, quiet):
    """A vocoder on espeak-ng speech, conditioned on per-frame log-mel features; stores
    each keyword's frames and says them with the quantized fused C step."""
    _needs_tensorflow()
    if size == "small":
        base = SMALL if architecture == "window_mlp" else SMALL_WAVENET
    else:
        base = replace(SynthConfig(), architecture=architecture)
    cfg = replace(base, seed=seed, mode=mode, progress=not quiet, **({"steps": steps} if steps else {}))
    result = train_synth(cfg, out_dir)
    audio = say(result.path)
    wavs = write_wavs(audio, result.path / "say")
    heard = recognize(speech_run, audio) if speech_run else {}
    console.print(f"synth: {result.info['params']:,} parameters, {result.info['step_macs']:,} MACs per sample, "
                  f"training loss {result.info['loss_first']:.2f} -> {result.info['loss_last']:.2f}")
    table = Table(title="keywords said by the quantized fused step", title_justify="left")
    for col in ("keyword", "stored frame values", "generated", *(["heard as"] if heard else [])):
        table.add_column(col)
    for w, a in audio.items():
        table.add_row(w, str(result.info["keyword_frame_values"][w]), f"{len(a) / 8000:.2f} s",
                      *([heard[w] + (" (ok)" if heard[w] == w else "")] if heard else []))
    console.print(table)
    if heard:
        ok = sum(heard[w] == w for w in audio)
        console.print(f"{ok} of {len(audio)} keywords recognized by the int8 speech net")
    console.print(f"wrote {result.path}/ (vocoder.keras, step.tflite, keywords.npz) and {len(wavs)} WAV files in {wavs[0].parent}")


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--mode", type=click.Choice(["int8", "16x8"]), default="int8", show_default=True,
              help="int8: int8 weights and activations; 16x8: int8 weights, int16 activations (audio).")
@click.option("--per-tensor", is_flag=True, help="One weight scale per tensor instead of per output channel.")
@click.option("-o", "--output", "out_path", type=click.Path(dir_okay=False),
              help="Write the quantized model here (default: RUN_DIR/model.tflite).")
def quantize(run_dir, mode, per_tensor, out_path):
    """Quantize a trained run (full integer, calibrated on its training data) and print
    float and quantized accuracy side by side on its held-out data."""
    _needs_tensorflow()
    run = Run.open(run_dir)
    if run.task not in ("vision", "speech"):
        raise ProtobrainError(f"{run_dir}: quantize handles classifier runs (vision, speech), not {run.task}")
    model = run.keras_model()
    train_set, test_set = run.split("train"), run.split("test")
    tflite = to_tflite(model, train_set.x, mode, per_channel=not per_tensor, seed=run.info.get("seed", 0))
    scores = evaluate(model, tflite, {"test": test_set}, run.task)
    target = Path(out_path) if out_path else run.path / "model.tflite"
    target.write_bytes(tflite)
    table = Table(title=f"{run.task}: float vs {mode} on {len(test_set):,} held-out examples", title_justify="left")
    for col in ("model", "accuracy", "size (bytes)"):
        table.add_column(col, justify="left" if col == "model" else "right")
    table.add_row("float (Keras)", f"{scores['test'].float_acc:.2%}", f"{4 * model.count_params():,} (weights)")
    table.add_row(f"{mode} (generated C)", f"{scores['test'].quant_acc:.2%}", f"{len(tflite):,} (.tflite)")
    console.print(table)
    if target == run.path / "model.tflite":
        run.update(mode=mode, accuracy={**run.info.get("accuracy", {}),
                                        "test": {"float": scores["test"].float_acc, mode: scores["test"].quant_acc}})
    console.print(f"wrote {target}")


def _parse_widths(value: str) -> list[float]:
    try:
        widths = sorted({float(v) for v in value.split(",") if v.strip()})
    except ValueError:
        raise click.BadParameter(f"'{value}': give widths as numbers separated by commas, e.g. 0.25,0.5,1") from None
    if not widths or any(not WIDTH_RANGE[0] <= w <= WIDTH_RANGE[1] for w in widths):
        raise click.BadParameter(f"'{value}': widths must lie between {WIDTH_RANGE[0]} and {WIDTH_RANGE[1]}")
    return widths


@click.command()
@click.argument("task", type=click.Choice(["vision", "speech"]))
@click.option("--widths", default="0.25,0.5,1", show_default=True, help="Width multipliers to train, comma-separated.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), help="As for `protobrain train TASK`.")
@click.option("-b", "--board", default="qemu-mps2-an386", show_default=True,
              help="Simulated board whose exact instruction counts are reported.")
@click.option("-o", "--output", "out_dir", default="runs/sweep", show_default=True, type=click.Path(file_okay=False))
@click.option("--workers", type=IntRange(1, 4096), default=None,
              help="Trials at once through Ray Tune (default: one per core of the machine or cluster); "
                   "1 runs them one after another without Ray. Each trial trains on one thread, "
                   "so every way gives the same models.")
@click.option("--address", default=None, metavar="ADDR",
              help="An existing Ray cluster to run the trials on (HEAD:6379, or auto on a cluster node); "
                   "default: local Ray on this machine.")
@KERNELS
@OPTIMIZE
@_EPOCHS
@_SEED
@_QUIET
def sweep(task, widths, data_dir, board, out_dir, workers, address, kernels, optimize, epochs, seed, quiet):
    """Train TASK at several widths; measure int8 accuracy and instructions; plot one against the other."""
    _needs_tensorflow()
    widths = _parse_widths(widths)
    tier = sweep_tier(board, kernels)  # before the data loads: a real board is refused at once
    console.print(f"sweep of {task} on {board}, {tier} kernels"
                  + (f" (--optimize {optimize})" if tier == "dsp" else ""))
    if task == "vision":
        ds = vision.load(data_dir)
        cfg = _config(1.0, seed, epochs, quiet, 40)
        train_fn = functools.partial(vision.train_vision, ds)   # sent to the trials' worker processes
    else:
        ds = speech.load(data_dir, seed=seed, progress=not quiet)
        cfg = _config(1.0, seed, epochs, quiet, 12)
        train_fn = functools.partial(speech.train_speech, ds)
    points = run_sweep(task, train_fn, widths, cfg, Path(out_dir), board, workers, address, kernels=tier,
                       optimize=optimize)
    console.print(markdown(task, points, board, tier))
    console.print(f"wrote {out_dir}/sweep.md, sweep.json, sweep.png")


@click.group()
def data():
    """Look into training data."""


@data.command("audit")
@click.argument("task", type=click.Choice(["vision", "speech"]), default="vision")
@click.option("--data", "data_dir", type=click.Path(file_okay=False), help="As for `protobrain train TASK`.")
@click.option("--flip", default=0.0, show_default=True, type=FloatRange(0.0, 0.5),
              help="Flip this fraction of labels on purpose first, and report how many the ranking finds.")
@click.option("--top", default=20, show_default=True, type=IntRange(1, 10000), help="Examples to list.")
@click.option("--folds", default=4, show_default=True, type=IntRange(2, 20))
@click.option("-o", "--output", "out_dir", default="runs/audit", show_default=True, type=click.Path(file_okay=False))
@_EPOCHS
@_SEED
@_QUIET
def audit(task, data_dir, flip, top, folds, out_dir, epochs, seed, quiet):
    """Rank training examples by held-out loss; list (and picture) the likeliest mislabeled."""
    _needs_tensorflow()
    if task == "vision":
        build, ds, default_epochs = vision_net, vision.load(data_dir), 30
    else:
        # no augmented copies: a copy in another fold would teach the net the wrong label
        build, default_epochs = dscnn, 8
        ds = speech.load(data_dir, seed=seed, progress=not quiet, augment_copies=0).train
    flipped = np.array([], dtype=np.int64)
    if flip:
        ds.y, flipped = flip_labels(ds.y, flip, len(ds.classes), seed)
    result = held_out_losses(ds, build, _config(1.0, seed, epochs, quiet, default_epochs), folds)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    png = picture(ds, result, out / "audit.png")
    # a folder's examples are named by their files; a built-in dataset has none: indices
    examples_are = ("files" if ds.files is not None else
                    f"indices into {ds.meta.get('source', 'the built-in data')} (a built-in dataset has no files)")
    table = Table(title=f"{task}: {top} likeliest mislabeled of {len(ds):,}", title_justify="left")
    for col in ("rank", "file" if ds.files is not None else "example", "label", "net says", "loss") + \
            (("flipped on purpose",) if flip else ()):
        table.add_column(col, justify="right" if col in ("rank", "example", "loss") else "left", overflow="fold")
    flipped_set = set(flipped.tolist())
    for r, i in enumerate(result.ranking[:top], 1):
        row = [str(r), str(ds.example(i)), ds.classes[ds.y[i]], ds.classes[result.predicted[i]], f"{result.losses[i]:.2f}"]
        table.add_row(*row, *(["yes" if i in flipped_set else ""] if flip else []))
    console.print(table)
    if ds.files is None:
        console.print(f"examples are {examples_are}")
    ranking = [{"example": ds.example(i), "label": ds.classes[ds.y[i]], "net_says": ds.classes[result.predicted[i]],
                "loss": round(float(result.losses[i]), 5)} for i in result.ranking]
    summary = {"task": task, "examples": len(ds), "folds": folds, "seed": seed,
               "examples_are": examples_are,
               "ranking": ranking}
    if flip:
        caught = len(flipped_set & set(result.top(0.10).tolist()))
        summary.update(flipped=[ds.example(i) for i in flipped], caught_in_top_10pct=caught)
        console.print(f"{caught} of {len(flipped)} flipped labels ({caught / max(1, len(flipped)):.0%}) "
                      f"are in the top 10% of the ranking")
    (out / "audit.json").write_text(json.dumps(summary) + "\n")
    console.print(f"wrote {png}, {out / 'audit.json'}")


COMMANDS = [train, quantize, sweep, data]
