#!/usr/bin/env python3
"""`make eval`: the full-size training figures of issue-level claims, written to EVAL.md.

Trains each net at full size, measures it on held-out data with the int8 model running
in the generated C, and writes one Markdown report (plus the sweep and audit pictures).
Sections can be run alone: --only vision,speech,audit,sweep,synth.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from rich.console import Console

from protobrain.errors import ProtobrainError

console = Console(stderr=True, highlight=False)
SECTIONS = ("vision", "speech", "audit", "sweep", "synth")
PICTURES = Path("docs")   # pictures EVAL.md shows: committed beside it, unlike the runs


def pct(v: float) -> str:
    return f"{100 * v:.2f}%"


def vision(out: Path, seed: int) -> list[str]:
    from protobrain.train.classifier import TrainConfig
    from protobrain.train.vision import load, train_vision

    ds = load(None)
    r = train_vision(ds, TrainConfig(epochs=40, seed=seed), out / "vision")
    s = r.test
    return ["## Vision: scikit-learn digits", "",
            f"Small ConvNet (width 1, {r.run.info['params']:,} parameters), 40 epochs, seed {seed}; "
            f"{r.run.info['sizes']['train']:,} training and {r.run.info['sizes']['test']:,} held-out images "
            "(stratified).", "",
            "| model | held-out accuracy |", "|---|---:|",
            f"| float (Keras) | {pct(s.float_acc)} |", f"| int8 (generated C) | {pct(s.quant_acc)} |", "",
            f"Target: int8 >= 97%: **{'met' if s.quant_acc >= 0.97 else 'NOT met'}**.", ""]


def speech(out: Path, seed: int) -> list[str]:
    from protobrain.train import espeak
    from protobrain.train.classifier import TrainConfig
    from protobrain.train.speech import load, train_speech

    data = load(None, seed=seed)
    r = train_speech(data, TrainConfig(epochs=12, seed=seed), out / "speech")
    rows = [("held-out accents and voice families, keyword classes", "test-keywords"),
            ("held-out accents and voice families, all 12 classes", "test"),
            ("in-distribution (unseen clips of training voices), keyword classes", "in-distribution-keywords"),
            ("in-distribution, all 12 classes", "in-distribution")]
    kw = r.scores["test-keywords"].quant_acc
    lines = ["## Speech: keyword spotting on espeak-ng keywords", "",
             f"DS-CNN (width 1, {r.run.info['params']:,} parameters), 12 epochs, seed {seed}, on 8 kHz integer "
             f"log-mel features (49 frames x 20 mels). Classes: silence, unknown, {', '.join(espeak.KEYWORDS)}. "
             f"Held out: accent {', '.join(espeak.TEST_ACCENTS)} and the voice families "
             f"{', '.join(espeak.TEST_FAMILIES)} (never in training). {r.run.info['sizes']['train']:,} training "
             "examples including noisy, time-shifted copies.", "",
             "| evaluation set | examples | float | int8 (generated C) |", "|---|---:|---:|---:|"]
    for label, key in rows:
        s = r.scores[key]
        lines.append(f"| {label} | {r.run.info['sizes'][key]:,} | {pct(s.float_acc)} | {pct(s.quant_acc)} |")
    lines += ["", f"Target: >= 90% over the keyword classes on held-out voices: **{'met' if kw >= 0.9 else 'NOT met'}**.", ""]
    return lines


def audit(out: Path, seed: int) -> list[str]:
    from protobrain.train.audit import flip_labels, held_out_losses, picture
    from protobrain.train.classifier import TrainConfig
    from protobrain.train.nets import vision_net
    from protobrain.train.vision import load

    ds = load(None)
    ds.y, flipped = flip_labels(ds.y, 0.05, len(ds.classes), seed)
    res = held_out_losses(ds, vision_net, TrainConfig(epochs=30, seed=seed), folds=4)
    caught = len(set(flipped.tolist()) & set(res.top(0.10).tolist()))
    PICTURES.mkdir(exist_ok=True)
    png = picture(ds, res, PICTURES / "eval-audit.png")
    top_rank = {int(i): r for r, i in enumerate(res.ranking)}
    worst = max(top_rank[int(i)] for i in flipped)
    return ["## Data audit: digits with 5% of labels flipped on purpose", "",
            f"4-fold held-out loss ranking of all {len(ds):,} images; {len(flipped)} labels flipped.", "",
            f"- flipped labels in the top 10% of the ranking: **{caught} of {len(flipped)} ({caught / len(flipped):.0%})** "
            f"(target >= 70%: {'met' if caught >= 0.7 * len(flipped) else 'NOT met'})",
            f"- lowest-ranked flipped example: rank {worst + 1:,} of {len(ds):,}",
            "- the 24 most suspicious:", "", f"![most suspicious digits]({png.as_posix()})", ""]


def sweep(out: Path, seed: int) -> list[str]:
    from protobrain.train.classifier import TrainConfig
    from protobrain.train.sweep import markdown, run_sweep, sweep_tier
    from protobrain.train.vision import load, train_vision

    ds = load(None)
    board = "qemu-mps2-an386"
    points = run_sweep("vision", lambda c, o: train_vision(ds, c, o), [0.25, 0.5, 1.0],
                       TrainConfig(epochs=40, seed=seed), out / "sweep", board)
    PICTURES.mkdir(exist_ok=True)
    png = PICTURES / "eval-sweep.png"
    png.write_bytes((out / "sweep" / "sweep.png").read_bytes())
    return ["## Width sweep: vision on the simulated Cortex-M4", "", markdown("vision", points, board, sweep_tier(board)),
            f"![accuracy against instructions]({png.as_posix()})", ""]


def synth(out: Path, seed: int) -> list[str]:
    from protobrain.train.synth import SynthConfig, recognize, say, train_synth, write_wavs

    speech_run = out / "speech"
    if not (speech_run / "run.json").exists():
        raise ProtobrainError(f"{speech_run}: no speech run to listen with; run the speech section first")
    cfg = SynthConfig(seed=seed)
    r = train_synth(cfg, out / "synth")
    audio = say(r.path)
    write_wavs(audio, r.path / "say")
    heard = recognize(speech_run, audio)
    ok = sum(heard[w] == w for w in audio)
    w = cfg.wavenet
    lines = ["## Synth: keywords said by the int8 WaveNet, heard by the int8 speech net", "",
             f"WaveNet vocoder: {w.layers} layers (dilations {', '.join(map(str, w.dilations))}), residual {w.residual}, "
             f"skip {w.skip}, hidden {w.hidden}, 256-way mu-law output; {r.info['params']:,} parameters, "
             f"{r.info['step_macs']:,} MACs per sample. Trained teacher-forced for {cfg.steps:,} steps "
             f"(batch {cfg.batch} x {cfg.segment} samples) on espeak-ng voice `{cfg.voice.name}` speaking "
             f"{len(cfg.words)} words x {cfg.renditions} renditions; loss {r.info['loss_first']:.2f} -> "
             f"{r.info['loss_last']:.2f}. Conditioning: the 20 integer log-mel frames per 20 ms the device stores "
             "per keyword. Generation: the int8 per-step model as one fused C step, sampling at temperature "
             f"{cfg.temperature}.", "",
             "| keyword | stored frames (values) | heard as (int8 speech net) |", "|---|---:|---|"]
    for word in audio:
        lines.append(f"| {word} | {r.info['keyword_frame_values'][word]} | {heard[word]}{' ✓' if heard[word] == word else ''} |")
    lines += ["", f"Recognized: **{ok} of {len(audio)}** (target >= 8 of 10: {'met' if ok >= 8 else 'NOT met'}). "
              f"The WAV files are in `{(r.path / 'say').as_posix()}/`.", ""]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="eval", help="folder for runs and pictures (default: eval)")
    ap.add_argument("--markdown", default="EVAL.md")
    ap.add_argument("--only", default=",".join(SECTIONS))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in only if s not in SECTIONS]
    if bad:
        console.print(f"eval: unknown section {', '.join(bad)}; choose from {', '.join(SECTIONS)}")
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts_file = out / "sections.json"
    parts = json.loads(parts_file.read_text()) if parts_file.exists() else {}
    for name in only:
        fn = globals()[name]
        t0 = time.time()
        console.print(f"eval: {name} ...")
        try:
            lines = fn(out, args.seed)
        except ProtobrainError as e:
            console.print(f"eval: {name}: error: {e}")
            return 2
        lines.append(f"_({name}: {time.time() - t0:.0f} s on this machine)_")
        parts[name] = lines
        parts_file.write_text(json.dumps(parts, indent=1))
    text = ["# protobrain: training evaluation", "",
            "Full-size runs of `make eval` (`scripts/eval.py`). Accuracy is always measured on held-out data "
            "with the quantized model running in protobrain's generated C.", ""]
    for name in SECTIONS:
        if name in parts:
            text += parts[name] + [""]
    Path(args.markdown).write_text("\n".join(text).rstrip() + "\n")
    console.print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
