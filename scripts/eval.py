#!/usr/bin/env python3
"""`make eval`: the full-size training figures of issue-level claims, written to EVAL.md.

Trains each net at full size, measures it on held-out data with the int8 model running
in the generated C, and writes one Markdown report (plus the sweep and audit pictures).
Sections can be run alone: --only vision,speech,audit,sweep,synth; the report keeps the
other sections' text. The synth section listens with the speech section's net (trained
first if the --out folder has none) and with a net of its own that never heard the synth's
voice, and measures mel-cepstral distortion (protobrain.train.speech_quality).
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
HEADINGS = {"vision": "## Vision", "speech": "## Speech", "audit": "## Data audit", "sweep": "## Width sweep",
            "synth": "## Synth"}  # how each section's text starts in EVAL.md


def existing_sections(markdown: Path) -> dict[str, list[str]]:
    """The sections of an EVAL.md already written, so that running one section alone (in a
    fresh --out folder, without its sections.json) keeps the others' text."""
    if not markdown.is_file():
        return {}
    parts: dict[str, list[str]] = {}
    name = None
    for line in markdown.read_text().splitlines():
        if line.startswith("## "):
            name = next((n for n, h in HEADINGS.items() if line.startswith(h)), None)
            if name:
                parts[name] = []
        if name:
            parts[name].append(line)
    return {n: lines[:max(i for i, x in enumerate(lines) if x.strip()) + 1] for n, lines in parts.items()}


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


def speech_net(out: Path, seed: int):
    """The full-size speech net of the speech section (the synth section listens with it)."""
    from protobrain.train.classifier import TrainConfig
    from protobrain.train.speech import load, train_speech

    return train_speech(load(None, seed=seed), TrainConfig(epochs=12, seed=seed), out / "speech")


def speech(out: Path, seed: int) -> list[str]:
    from protobrain.train import espeak

    r = speech_net(out, seed)
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


# Anchors for the mel-cepstral distortion: other speakers of the synth's word (a male and a female
# variant of the synth's own accent), besides the mu-law floor, another rendition and another word.
MCD_OTHER_VOICES = (("en-us", "m3"), ("en-us", "f2"))


def vocoder_description(info: dict) -> str:
    """The synth run's vocoder in a sentence, from its run.json."""
    from protobrain.synth.vocoders import from_run_info

    v = from_run_info(info)
    c = v.config
    if v.architecture == "window_mlp":
        lpc = (f", linear prediction of order {c.lpc_order} (the net chooses only the excitation)"
               if c.lpc_order else "")
        arch = (f"window MLP over the last {c.window} samples (input {c.input_size}: history {c.history}, "
                f"frame embedding {c.embed}), hidden {', '.join(map(str, c.hidden))}, {c.classes}-way mu-law "
                f"output{lpc}; conditioning {c.cond_macs():,} MACs per frame of {c.hop} samples")
    else:
        arch = (f"WaveNet, {c.layers} layers (dilations {', '.join(map(str, c.dilations))}), residual {c.residual}, "
                f"skip {c.skip}, hidden {c.hidden}, {c.classes}-way mu-law output")
    return f"{arch}; {info['params']:,} parameters, {info['step_macs']:,} MACs per sample"


def synth(out: Path, seed: int) -> list[str]:
    from protobrain.train import espeak
    from protobrain.train.speech_quality import keyword_mcd, same_accent, spoken, train_unheard
    from protobrain.train.synth import SynthConfig, recognize, say_integer, train_synth, write_wavs

    speech_run = out / "speech"
    if not (speech_run / "run.json").exists():
        console.print(f"eval: synth: no speech run in {speech_run} to listen with; training it as the speech "
                      "section does (its section in the report is left as it was)")
        speech_net(out, seed)
    cfg = SynthConfig(seed=seed)
    r = train_synth(cfg, out / "synth")
    audio = say_integer(r.path)          # what the device says: integer frames, cond model, fused step
    write_wavs(audio, r.path / "say")
    voice = cfg.voice
    originals = {w: spoken(w, voice) for w in audio}
    heard, heard_original = recognize(speech_run, audio), recognize(speech_run, originals)
    console.print("eval: synth: training a speech net on voices the synth never heard ...")
    t0 = time.time()
    unheard, voices = train_unheard(voice, out / "speech-unheard", seed=seed)
    unheard_seconds = time.time() - t0
    u_heard, u_original = recognize(unheard.run.path, audio), recognize(unheard.run.path, originals)
    others = [espeak.Voice(a, v, espeak.family(v)) for a, v in MCD_OTHER_VOICES]
    rows = keyword_mcd(voice, audio, others)

    ok, u_ok = sum(heard[w] == w for w in audio), sum(u_heard[w] == w for w in audio)
    u_orig_ok = sum(u_original[w] == w for w in audio)
    info = r.info
    accents = sorted({v.accent for v in voices})
    families = sorted({v.family for v in voices})
    left_out = [a for a in espeak.english_accents() if a not in accents]
    why = "; ".join([f"{', '.join(a for a in left_out if same_accent(a, voice.accent))}: the synth's accent"] + [
        f"{a}: espeak-ng speaks only its default voice, a {espeak.family('')} one, whatever the variant"
        for a in left_out if not same_accent(a, voice.accent)])
    u_test = unheard.scores["test-keywords"].quant_acc

    def mark(said: str, word: str) -> str:
        return f"{said} ✓" if said == word else said

    lines = ["## Synth: keywords said by the int8 vocoder, heard and measured", "",
             f"Vocoder: {vocoder_description(info)}. Trained teacher-forced for {info['steps']:,} steps on espeak-ng "
             f"voice `{info['voice']}` speaking {info['words']} words x {cfg.renditions} renditions "
             f"(speeds {', '.join(map(str, cfg.speeds))} wpm, pitches {', '.join(map(str, cfg.pitches))}); loss "
             f"{info['loss_first']:.2f} -> {info['loss_last']:.2f}. Each keyword is said the way the device says it "
             "(`say_integer`): its stored int16 log-mel frames (20 per 20 ms) through the integer conditioning "
             f"model and the int8 fused step, sampling at temperature {info['temperature']}. Instructions per "
             "sample on the simulated boards are measured by `make demo` (out/REPORT.md), not here.", "",
             "### Heard by two int8 speech nets", "",
             "- **eval net**: the speech section's net. It trained on every installed espeak-ng voice except the "
             "held-out ones, so it heard the synth's own voice: it and the synth can agree on sounds nobody would "
             "understand.",
             f"- **unheard net**: the same DS-CNN trained only on voices the synth never heard: accents "
             f"{', '.join(accents)} (left out: {why}), voice families {', '.join(families)} (no {voice.family} "
             f"voice, so no accent's default voice either): {len(voices)} voices, "
             f"{unheard.run.info['sizes']['train']:,} training examples including noisy, time-shifted copies, "
             f"{unheard.run.info['epochs']} epochs, {unheard_seconds:.0f} s. On the "
             f"synth's real voice (espeak-ng `{voice.name}`, {unheard.run.info['sizes']['test-keywords']} keyword "
             f"clips at the training speeds and pitches) it gets {pct(u_test)} of the keywords right: the most "
             "one can expect of it on a perfect vocoder.", "",
             "| keyword | stored frames (values) | eval net: original | eval net: synthesized | unheard net: original "
             "| unheard net: synthesized |", "|---|---:|---|---|---|---|"]
    for w in audio:
        lines.append(f"| {w} | {info['keyword_frame_values'][w]} | {mark(heard_original[w], w)} | "
                     f"{mark(heard[w], w)} | {mark(u_original[w], w)} | {mark(u_heard[w], w)} |")
    lines += ["", f"Loop (eval net, synthesized): **{ok} of {len(audio)}** (target 10 of 10: "
              f"{'met' if ok == len(audio) else 'NOT met'}). Unheard net: **{u_ok} of {len(audio)}** synthesized, "
              f"{u_orig_ok} of {len(audio)} originals. The WAV files are in `{(r.path / 'say').as_posix()}/`.", "",
              "### Mel-cepstral distortion against the espeak-ng original", "",
              "MCD in dB (mean over the DTW path, c1..c13 of 24 mel bands over 0-4 kHz, 25 ms frames every 10 ms; c0, "
              f"the loudness, left out) of each keyword against the clip its stored frames were computed from "
              f"(`{voice.name}`, 150 wpm, pitch 50). Anchors: the original through 8-bit mu-law (what the vocoder's "
              "output coding alone costs), the same voice at 130 wpm and pitch 40 (another rendition), other voices "
              "of the same accent saying the word, and the next keyword said by the synth's voice (a wrong word). "
              "The cepstra are a filterbank's, not SPTK's all-pass mel-cepstrum, so read the figures against the "
              "anchors rather than against published ones.", "",
              "| keyword | synthesized | mu-law 8-bit | 130 wpm, pitch 40 | "
              + " | ".join(v.name for v in others) + " | another word |",
              "|---|---:|---:|---:|" + "---:|" * len(others) + "---|"]
    for m in rows:
        lines.append(f"| {m.word} | **{m.synthesized:.2f}** | {m.mulaw:.2f} | {m.other_rendition:.2f} | "
                     + " | ".join(f"{m.other_voices[v.name]:.2f}" for v in others)
                     + f" | {m.other_word:.2f} ({m.other_word_name}) |")

    def mean(values) -> str:
        return f"{sum(values) / len(values):.2f}"

    lines.append(f"| **mean** | **{mean([m.synthesized for m in rows])}** | {mean([m.mulaw for m in rows])} | "
                 f"{mean([m.other_rendition for m in rows])} | "
                 + " | ".join(mean([m.other_voices[v.name] for m in rows]) for v in others)
                 + f" | {mean([m.other_word for m in rows])} |")
    lines.append("")
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
    parts = existing_sections(Path(args.markdown))
    parts |= json.loads(parts_file.read_text()) if parts_file.exists() else {}
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
