#!/usr/bin/env python3
"""`make demo`: the protobrain, end to end.

Trains the three nets at demo size (or reuses runs already built: the full-size runs of
`make eval` in eval/ when they exist, else the demo-size runs in <out>/runs), bundles them
into one firmware for a simulated Cortex-M4, starts it in QEMU, and runs the four demos
over serial: see, listen, speak and loop. Every device result is checked byte for byte
against the host's twin (the same generated C compiled for this machine) and against
TensorFlow Lite Micro running the .tflite models the bundle is built from (protobrain.app.bundle.Tflm
says what that covers). Then the synthesizer's cost per sample is measured on every
simulated core, whose samples are checked the same way. Writes <out>/REPORT.md with its
pictures; exits 1 when any device result differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from rich.console import Console

from protobrain.errors import ProtobrainError

console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)

# Each core at a clock it usually runs at in a product, and a part that does.
CORE_CLOCKS = {
    "cortex-m0": (48_000_000, "STM32F072"),
    "cortex-m3": (72_000_000, "STM32F103"),
    "cortex-m4": (168_000_000, "STM32F407"),
    "cortex-m7": (216_000_000, "STM32F746"),
    "cortex-m33": (110_000_000, "STM32L552"),
    "cortex-m55": (400_000_000, "Alif Ensemble E7 (HP core)"),
    "rv32imac": (108_000_000, "GD32VF103"),
}
# One simulated board per core.
CORE_BOARDS = ["qemu-microbit", "qemu-mps2-an385", "qemu-mps2-an386", "qemu-mps2-an500", "qemu-mps2-an505",
               "qemu-mps3-an547", "qemu-riscv32-virt"]
LISTEN_WORDS = 3        # keywords in the listen demo's recording
CORE_FRAMES = 2         # frames the synthesizer says on each core (its cost is the same every sample)
SAY_TEXT = "hello world"  # said from frames the host streams


def step(text: str) -> float:
    console.print(f"[bold]demo:[/] {text}")
    return time.time()


# ---- the nets ----------------------------------------------------------------------------------


def demo_speech_config():
    from protobrain.train.espeak import KEYWORDS, UNKNOWN_WORDS
    from protobrain.train.speech import SpeechDataConfig

    return replace(SpeechDataConfig(), keywords=KEYWORDS, unknown_words=UNKNOWN_WORDS[:12],
                   accents=("en-us", "en-gb", "en-gb-scotland", "en-029"),
                   variants=("m1", "m2", "m3", "m5", "m7", "f1", "f2", "f3", "f4", "Andy", "linda", "croak",
                             "klatt", "klatt2", "whisper"),
                   per_voice=1, unknown_per_word=16, silence=150, augment_copies=1)


def demo_synth_config():
    from protobrain.train.synth import SynthConfig

    return replace(SynthConfig(), renditions=6, steps=3000, lr=3e-3)


# Profiles: the nets' sizes, the board, and the LISTEN chunk (which sizes the serial buffer).
# "tiny" fits a Cortex-M0 with 16 KB of RAM (qemu-microbit): narrow vision and speech nets,
# a smaller vocoder, 20 ms LISTEN chunks.
PROFILES = {
    "standard": {"board": "qemu-mps2-an386", "width": 1.0, "listen_chunk": 800, "vocoder": None,
                 "speech_epochs": 20, "speech_lr": None},
    # a quarter-width speech net learns in 30 epochs at a higher rate (14 at the default: 35% held out)
    "tiny": {"board": "qemu-microbit", "width": 0.25, "listen_chunk": 160, "stack": 3072,
             "vocoder": {"window": 8, "embed": 8, "hidden": (32, 32)}, "speech_epochs": 30, "speech_lr": 0.01},
}


def ensure_runs(runs: Path, eval_dir: Path | None, seed: int, profile: dict) -> dict[str, Path]:
    """The three runs: full-size ones from `make eval` (standard profile), else ones of the
    profile's size (trained once)."""
    from protobrain.train.classifier import TrainConfig

    width = profile["width"]
    found = {}
    for task in ("vision", "speech", "synth"):
        full = eval_dir / task if eval_dir else None
        if full and (full / "run.json").is_file():
            found[task] = full
            console.print(f"  {task}: reusing the full-size run in {full}")
            continue
        demo = runs / task
        found[task] = demo
        if (demo / "run.json").is_file():
            console.print(f"  {task}: reusing {demo}")
            continue
        t0 = step(f"training the {task} net at demo size")
        if task == "vision":
            from protobrain.train.vision import load, train_vision

            train_vision(load(None), TrainConfig(epochs=40, seed=seed, width=width), demo)
        elif task == "speech":
            from protobrain.train.speech import load, train_speech

            speech_cfg = TrainConfig(epochs=profile["speech_epochs"], seed=seed, width=width)
            if profile["speech_lr"]:
                speech_cfg = replace(speech_cfg, lr=profile["speech_lr"])
            train_speech(load(None, seed, cfg=demo_speech_config()), speech_cfg, demo)
        else:
            from protobrain.train.synth import train_synth

            cfg = replace(demo_synth_config(), seed=seed)
            if profile["vocoder"]:
                cfg = replace(cfg, window_mlp=replace(cfg.window_mlp, **profile["vocoder"]))
            train_synth(cfg, demo)
        console.print(f"  {task}: trained in {time.time() - t0:.0f} s")
    return found


# ---- the demos ---------------------------------------------------------------------------------


def see_demo(pb, checks, runs, out: Path) -> dict:
    from PIL import Image

    from protobrain.app.demo import read_image
    from protobrain.train.data import typical_examples
    from protobrain.train.run import Run

    run = Run.open(runs["vision"])
    test = run.split("test")
    shape = pb.spec["vision"]["input_shape"]
    rows = []
    # one held-out image per class, picked from the data alone (nearest its class's mean
    # training image); the net's accuracy over the whole held-out split is in the nets table
    for i in typical_examples(run.split("train"), test):
        img = np.clip(test.x[i].reshape(shape[0], shape[1], -1) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        path = out / "see" / f"{test.classes[int(test.y[i])]}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img[..., 0] if img.shape[-1] == 1 else img).save(path)
        x = read_image(path, shape)
        r = pb.see(x)
        checks.see("see", r, path.name)
        rows.append({"image": path.name, "true": test.classes[int(test.y[i])], "seen": r.label, "score": r.score,
                     "count": r.count})
    return {"rows": rows, "unit": pb.unit, "held_out": len(test.y)}


def listen_recording(rate: int, seed: int, keywords: list[str]) -> tuple[np.ndarray, list[str]]:
    """Keywords spoken in the held-out Caribbean accent (en-029, never trained on), with
    silence between."""
    from protobrain.train.espeak import TEST_ACCENTS, Voice, synthesize, trim

    rng = np.random.default_rng(seed)
    said = [str(w) for w in rng.choice(keywords, LISTEN_WORDS, replace=False)]
    voice = Voice(TEST_ACCENTS[0], "", "male")
    parts = [np.zeros(rate // 2, np.int16)]
    for w in said:
        parts += [trim(synthesize(w, voice, sample_rate=rate)), np.zeros(rate // 2, np.int16)]
    return np.concatenate(parts), said


def net_rows(parts, runs) -> list[dict]:
    """Per net: accuracy from its run, MACs, planned arena and flash."""
    rows = []
    for prog, task in zip(parts.programs, ("vision", "speech", "synth")):
        info = parts.infos[task]
        acc = info.get("accuracy", {}).get("test", {}).get("int8")
        rows.append({"net": prog.graph.name, "macs": prog.macs, "arena": prog.arena_size, "flash": prog.const_bytes,
                     "accuracy": acc})
    fm = parts.fused
    rows.append({"net": "synth step (fused)", "macs": fm.macs, "arena": fm.arena_size,
                 "flash": fm.program.const_bytes, "accuracy": None,
                 "state": fm.ring_elements * np.dtype(fm.np_dtype).itemsize})
    return rows


def synth_per_core(parts, boards: list[str], out: Path, checks, frames: int = CORE_FRAMES,
                   stack: int | None = None) -> list[dict]:
    """Instructions per synthesized sample on each simulated core: the bundle built for
    that board, `frames` frames of the first keyword (the cost is the same every sample),
    whose samples `checks` compares as demo "cores"."""
    from protobrain.app import bundle as pb_bundle
    from protobrain.app.demo import Protobrain
    from protobrain.boards import load_board

    rows = []
    for name in boards:
        board = load_board(name)
        if stack:
            board = replace(board, stack_bytes=max(board.stack_bytes, stack))
        clock, part = CORE_CLOCKS.get(board.core, (board.clock_hz, board.name))
        row = {"board": name, "core": board.core, "clock_hz": clock, "part": part}
        step(f"synth cost per sample on {name} ({board.core})")
        try:
            b = pb_bundle.build(parts, board, out / "cores" / name)
            with Protobrain.open(b.path) as pb:
                spoken = pb.speak(pb.spec["synth"]["keywords"][0], seed=1, max_frames=frames)
            checks.speak("cores", spoken, f"{name}: {spoken.word!r}")
            row["per_sample"] = spoken.per_sample
            row["realtime"] = spoken.per_sample / (clock / spoken.sample_rate)
        except ProtobrainError as e:
            row["error"] = str(e)
            console.print(f"  {name}: {e}")
        rows.append(row)
    return rows


def vocoder_text(parts) -> str:
    """The synth's architecture in a sentence."""
    v, fm = parts.vocoder, parts.fused
    c = v.config
    if v.architecture == "window_mlp":
        lpc = f", linear prediction of order {c.lpc_order} (the net chooses the excitation)" if c.lpc_order else ""
        return (f"window MLP over the last {c.window} samples, hidden {', '.join(map(str, c.hidden))}, "
                f"{c.classes}-way mu-law output{lpc}; {fm.macs:,} MACs per sample")
    return (f"WaveNet, {c.layers} layers, residual {c.residual}, skip {c.skip}, {c.classes}-way output; "
            f"{fm.macs:,} MACs per sample")


# ---- the report --------------------------------------------------------------------------------


def _n(v) -> str:
    return f"{v:,}" if isinstance(v, (int, np.integer)) else f"{v:,.0f}" if isinstance(v, float) else str(v)


def charts(report: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    nets = report["nets"]
    names = [n["net"] for n in nets]
    fig, ax = plt.subplots(1, 4, figsize=(15, 3.6))
    acc = [100 * (n["accuracy"] or 0) for n in nets[:2]]
    ax[0].bar(names[:2], acc, color=["C0", "C1"])
    ax[0].set_ylim(0, 100)
    ax[0].set_title("held-out int8 accuracy (%)")
    for i, a in enumerate(acc):
        ax[0].text(i, a + 1, f"{a:.1f}", ha="center", fontsize=8)
    per = {"vision": report["see"]["rows"][0]["count"] if report["see"]["rows"] else 0,
           "speech": report["listen"]["per_inference"], "synth / sample": report["speak"]["per_sample"]}
    ax[1].bar(list(per), list(per.values()), color=["C0", "C1", "C2"])
    ax[1].set_yscale("log")
    ax[1].set_title("instructions per inference (M4)")
    x = np.arange(len(nets))
    ax[2].bar(x - 0.2, [n["arena"] / 1024 for n in nets], 0.4, label="RAM (arena)")
    ax[2].bar(x + 0.2, [n["flash"] / 1024 for n in nets], 0.4, label="flash (weights)")
    ax[2].set_xticks(x, [n.replace(" (fused)", "") for n in names], fontsize=7)
    ax[2].set_title("KiB per net")
    ax[2].legend(fontsize=7)
    cores = [c for c in report["cores"] if "realtime" in c]
    ax[3].bar([c["core"].replace("cortex-", "") for c in cores], [c["realtime"] for c in cores], color="C2")
    ax[3].axhline(1.0, color="k", lw=0.8, ls="--")
    ax[3].set_yscale("log")
    ax[3].set_title("synth: time / real-time budget (1 = real time)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# What the TensorFlow Lite Micro check runs, for the report (protobrain.app.bundle.Tflm).
CHECKS_TEXT = (
    "Every device result below was compared byte for byte with two computations on this machine: the host "
    "twin (the same generated C, compiled for this machine) and TensorFlow Lite Micro running the .tflite "
    "models the bundle is built from. TensorFlow Lite Micro runs the vision net on each image, the speech net "
    "on each window of features, and, for speaking, the conditioning net once per frame and the synthesizer's "
    "per-step model (`step.tflite`, which the fused C step is generated from) once per sample, with its ring "
    "buffers held in Python. The parts of the device that no .tflite model describes are protobrain's own "
    "Python in that check: the integer audio frontend and feature quantizers, and the synthesizer's integer "
    "sampling and mu-law tables (exact twins of the device's C). Each count is of the device results whose "
    "bytes equal that computation's; a mismatch is listed, and the demo exits with status 1.")
CHECK_DEMOS = {"see": "see", "listen": "listen", "speak": "speak", "loop": "loop",
               "cores": f"synth on each simulated core (first {CORE_FRAMES} frames)"}


def _checked(report: dict, demo: str) -> str:
    c = report["checks"].get(demo)
    if c is None:
        return "Nothing compared."
    text = c["summary"]
    return f"Checked: {text}." if c["ok"] else f"Checked: **{text}**."


def checks_table(report: dict) -> list[str]:
    from protobrain.app.demo import TFLM, TWIN

    def cell(t: dict) -> str:
        return f"{t['agreed']} of {t['total']}" + ("" if t["agreed"] == t["total"] else " **NO**")

    md = [f"| demo | results | device = {TWIN} | device = {TFLM} |", "|---|---|---:|---:|"]
    for demo, c in report["checks"].items():
        for unit, by_check in c["counts"].items():
            md.append(f"| {CHECK_DEMOS.get(demo, demo)} | {unit} | {cell(by_check[TWIN])} | {cell(by_check[TFLM])} |")
    return md


def write_report(report: dict, out: Path) -> Path:
    charts(report, out / "protobrain.png")
    mem, see, listen, speak = report["memory"], report["see"], report["listen"], report["speak"]
    md = ["# The protobrain: see, listen, speak" + (f" ({report['profile']} profile)" if report.get("profile", "standard")
                                                    != "standard" else ""), "",
          f"One firmware with three nets for {report['board']}, run in QEMU and driven over its serial port. "
          f"Runs: " + ", ".join(f"{k} `{v}`" for k, v in report["runs"].items()) + ". "
          "Instructions are exact counts from QEMU's instruction-counting plugin.",
          "", "![the protobrain](protobrain.png)", "", "## Checks", "", CHECKS_TEXT, "", *checks_table(report), "",
          "## Nets", "",
          "| net | held-out int8 accuracy | MACs | planned arena (B) | weights in flash (B) |", "|---|---:|---:|---:|---:|"]
    for n in report["nets"]:
        acc = f"{100 * n['accuracy']:.2f}%" if n["accuracy"] is not None else ""
        md.append(f"| {n['net']} | {acc} | {_n(n['macs'])} | {_n(n['arena'])} | {_n(n['flash'])} |")
    md += ["", "## Memory", "",
           f"The nets never run at the same time, so they share one arena: **{_n(mem['shared_arena'])} B**, "
           f"the largest plan ({_n(mem['largest_plan'])} B, rounded to 8-byte words plus one guard word), where "
           f"separate arenas would take {_n(mem['sum_of_plans'])} B.", "",
           "| part | bytes |", "|---|---:|",
           f"| shared arena | {_n(mem['shared_arena'])} |", f"| frontend state, feature window, sample buffers | {_n(mem['frontend'])} |",
           f"| synth state: ring buffers, step scratch, cond and sample buffers | {_n(mem['synth'])} |",
           f"| stack | {_n(mem['stack'])} |", f"| **RAM total** (.data + .bss, incl. protocol buffer) | {_n(mem['ram'])} |",
           f"| flash total | {_n(mem['flash'])} |", "",
           "## see", "",
           "One held-out image of each class, the one nearest its class's mean training image (picked from "
           "the data before the net runs; the nets table gives the accuracy over all "
           f"{see.get('held_out', len(see['rows']))} held-out images). " + _checked(report, "see"), "",
           "| image | true | seen | score | instructions |", "|---|---|---|---:|---:|"]
    for r in see["rows"]:
        md.append(f"| {r['image']} | {r['true']} | {r['seen']} | {r['score']:.2f} | {_n(r['count'])} |")
    md += ["", "## listen", "",
           f"Said (espeak-ng, held-out Caribbean accent): {', '.join(listen['said'])}. Heard: "
           f"{', '.join(f'{w} at {t:.2f} s ({p:.2f})' for t, w, p in listen['detections']) or 'nothing'}. "
           f"{listen['inferences']} inferences of the speech net, {_n(listen['per_inference'])} instructions each. " +
           _checked(report, "listen"), "", "![listen](listen.png)", "",
           "## speak", "",
           *([f"The vocoder: {report['vocoder']}. Nets run the **{report['tier']}** kernel tier.", ""]
             if "vocoder" in report else []),
           f"`{speak['word']}` (stored frames): {speak['seconds']:.2f} s of audio (`speak-{speak['word']}.wav`), "
           f"{_n(speak['per_sample'])} instructions per sample including the per-frame conditioning. "
           + (f"Any text, its frames computed on the host and streamed (`protobrain demo speak`): "
              f"\"{report['say']['text']}\", {report['say']['seconds']:.2f} s (`say.wav`), "
              f"{_n(report['say']['per_sample'])} instructions per sample. " if "say" in report else "")
           + _checked(report, "speak"), "",
           "## loop: the device speaks each keyword, then listens to it", "",
           "| said | heard | score |", "|---|---|---:|"]
    for r in report["loop"]:
        md.append(f"| {r['said']} | {r['heard']}{' ✓' if r['heard'] == r['said'] else ''} | {r['score']:.2f} |")
    right = sum(r["heard"] == r["said"] for r in report["loop"])
    md += ["", f"Heard right: **{right} of {len(report['loop'])}**. {_checked(report, 'loop')}", "",
           "## The synthesizer on every simulated core", "",
           "Instructions per sample (exact, QEMU) against the budget at 8 kHz at a clock the core usually runs at. "
           f"Above 1x the device renders to a buffer before playing. {_checked(report, 'cores')}", "",
           "| core | board | instructions per sample | usual clock | budget per sample | against real time |",
           "|---|---|---:|---|---:|---:|"]
    for c in report["cores"]:
        budget = c["clock_hz"] / 8000
        if "error" in c:
            md.append(f"| {c['core']} | {c['board']} | {c['error']} | | | |")
            continue
        verdict = (f"{c['realtime']:.1f}x slower than real time" if c["realtime"] > 1
                   else f"real time ({1 / c['realtime']:.1f}x faster)")
        md.append(f"| {c['core']} | {c['board']} | {_n(c['per_sample'])} | {c['clock_hz'] / 1e6:.0f} MHz "
                  f"({c['part']}) | {_n(budget)} | {verdict} |")
    md += ["", f"_Whole demo: {report['seconds'] / 60:.1f} min on this machine._", ""]
    path = out / "REPORT.md"
    path.write_text("\n".join(md))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("out"))
    ap.add_argument("--eval", type=Path, default=Path("eval"), help="full-size runs of make eval, used when present")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="standard",
                    help="standard: the protobrain for a Cortex-M4; tiny: smaller nets for a Cortex-M0 with 16 KB "
                         "of RAM (qemu-microbit), its runs in OUT/runs-tiny")
    ap.add_argument("--board", default=None, help="default: the profile's board")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cores", default=None,
                    help="boards for the synth's cost per sample (default: every simulated core; tiny: its board)")
    args = ap.parse_args()
    t_start = time.time()
    try:
        return run(args, t_start)
    except ProtobrainError as e:
        console.print(f"demo: error: {e}")
        return 2


def run(args, t_start: float) -> int:
    from protobrain.app import bundle as pb_bundle
    from protobrain.app.demo import TFLM, TWIN, Checks, Protobrain, plot_listen, write_wav
    from protobrain.app.loop import run_loop
    from protobrain.app.text import text_frames, voice_of
    from protobrain.boards import load_board
    from protobrain.cli.bundle import print_memory

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    profile = PROFILES[args.profile]
    args.board = args.board or profile["board"]
    cores = args.cores if args.cores is not None else (",".join(CORE_BOARDS) if args.profile == "standard"
                                                        else args.board)
    report = {"board": args.board, "profile": args.profile}
    tiny = args.profile != "standard"
    runs = ensure_runs(out / (f"runs-{args.profile}" if tiny else "runs"), None if tiny else args.eval, args.seed,
                       profile)
    report["runs"] = {k: str(v) for k, v in runs.items()}

    step(f"bundling the three nets for {args.board}")
    parts = pb_bundle.load_parts(runs["vision"], runs["speech"], runs["synth"],
                                 listen_max_samples=profile["listen_chunk"])
    board = load_board(args.board)
    if profile.get("stack"):  # the frontend's worst case on a core without a 64-bit multiply
        board = replace(board, stack_bytes=max(board.stack_bytes, profile["stack"]))
    bundle = pb_bundle.build(parts, board, out / "protobrain")
    print_memory(bundle.memory, board.name)
    console.print(f"  kernels: {bundle.tier} tier; synth: {parts.vocoder.architecture} vocoder")
    report["tier"], report["vocoder"] = bundle.tier, vocoder_text(parts)
    checks = Checks({TWIN: pb_bundle.Twin(parts, tier=bundle.tier), TFLM: pb_bundle.Tflm(parts)})

    def checked(demo: str) -> None:
        console.print(f"  {'' if checks.ok(demo) else '[bold red]'}{checks.summary(demo)}")

    step("starting the protobrain in QEMU")
    with Protobrain.open(bundle.path) as pb:
        step("see: the device classifies a held-out digit of each class")
        report["see"] = see_demo(pb, checks, runs, out)
        for r in report["see"]["rows"]:
            console.print(f"  {r['image']}: true {r['true']}, seen [bold]{r['seen']}[/] ({r['score']:.2f}), "
                          f"{r['count']:,} {pb.unit}")
        checked("see")

        step("listen: keywords in a held-out accent stream to the device")
        rate = pb.spec["speech"]["sample_rate"]
        keywords = [c for c in pb.spec["speech"]["classes"] if c not in ("silence", "unknown")]
        audio, said = listen_recording(rate, args.seed, keywords)
        write_wav(out / "listen.wav", audio, rate)
        heard = pb.listen(audio)
        plot_listen(heard, audio, rate, out / "listen.png", f"said: {', '.join(said)}")
        checks.listen("listen", audio, heard, "the recording")
        report["listen"] = {"said": said, "detections": heard.detections, "per_inference": heard.per_inference,
                            "inferences": len(heard.times)}
        console.print(f"  said {', '.join(said)}; heard "
                      f"{', '.join(w for _, w, _ in heard.detections) or 'nothing'}")
        checked("listen")

        step("speak: the device vocodes a keyword")
        word = pb.spec["synth"]["keywords"][0]
        spoken = pb.speak(word, seed=1)
        write_wav(out / f"speak-{word}.wav", spoken.pcm, spoken.sample_rate)
        checks.speak("speak", spoken)
        report["speak"] = {"word": word, "seconds": len(spoken.pcm) / spoken.sample_rate,
                           "per_sample": spoken.per_sample}
        console.print(f"  {word}: {report['speak']['seconds']:.2f} s, {spoken.per_sample:,.0f} instructions per sample")
        sy = pb.spec["synth"]
        frames = text_frames(SAY_TEXT, voice_of(sy["voice"]), parts.frontend, int(sy["lpc_order"]))
        said = pb.say(frames, seed=1)
        write_wav(out / "say.wav", said.pcm, said.sample_rate)
        checks.speak("speak", said, repr(SAY_TEXT))
        report["say"] = {"text": SAY_TEXT, "seconds": len(said.pcm) / said.sample_rate, "per_sample": said.per_sample}
        console.print(f"  \"{SAY_TEXT}\" (streamed): {report['say']['seconds']:.2f} s, "
                      f"{said.per_sample:,.0f} instructions per sample")
        checked("speak")

        step("loop: the device speaks every keyword and listens to itself")
        report["loop"] = run_loop(pb, seed=1, out_dir=out / "loop", checks=checks,
                                  progress=lambda row: console.print(f"  said {row['said']}, heard {row['heard']}"))
        checked("loop")

    report["memory"] = bundle.memory.to_json()
    report["nets"] = net_rows(parts, runs)
    report["cores"] = synth_per_core(parts, [c for c in cores.split(",") if c], out, checks,
                                     stack=profile.get("stack"))
    checked("cores")
    report["checks"] = {d: {"summary": checks.summary(d), "ok": checks.ok(d), "counts": counts}
                        for d, counts in checks.to_json().items()}
    report["seconds"] = time.time() - t_start
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str) + "\n")
    write_report(report, out)
    console.print(f"demo: report in {out / 'REPORT.md'} ({report['seconds'] / 60:.1f} min)")
    if not checks.ok():
        console.print("demo: [bold red]some device results differ[/]: " +
                      "; ".join(f"{d}: {checks.summary(d)}" for d in checks.tallies if not checks.ok(d)))
    return 0 if checks.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
