"""The hostile-model fuzzer: mutate .tflite files and check how protobrain takes each one.

A mutant must either be refused with a clear one-line ProtobrainError, or compile, for
every kernel tier (portable, dsp, mve: compiler/ops/tiers/select.py), to a Program whose
generated C stays in bounds and computes what TensorFlow Lite Micro computes on the same
mutant. Anything else (a Python exception or a hang in any tier's generation, a fast tier
refusing what the portable one compiled) is a finding, named by its tier.

    modelmap.ModelMap(data)                  where each field of a .tflite file lives
    mutator.Mutator(data).mutate(rng)        one random structured mutation (a Mutation) of a model
    cases.run_case(data)                     the reader and compiler (every tier) on one mutant -> Outcome
    driver.fuzz(seeds, cases, seed)          many cases -> FuzzReport (counts per tier, findings, valid mutants)
    driver.verify_valid(mutants, qemu=...)   generated C with -fsanitize=address,undefined (portable and
                                             DSP tier: sanitize.py) and, for `qemu`, firmware in QEMU (DSP on
                                             the M4, Helium on the M55: qemu.py), against TFLite Micro (run in
                                             a child process, as it may abort: tflm.py); on the host every
                                             input case runs twice, both sides reset before each pass, so
                                             stateful models are compared from their start and after a reset;
                                             values TFLite Micro leaves unwritten are not (unwritten.py)
    seeds.builtin_seeds(), load_seeds(dir)   the models mutated: hand-written ones (seeds_*.py, written with
                                             seeds_net.Net; every registered operator TFLite Micro runs is in
                                             one), and a models folder's

Mutations work on the flatbuffer structure: field and vector positions are found by
walking the tables with the slot numbers of the `tflite` schema package (and a custom
operator's flexbuffer options map), then bytes are patched in place (the file keeps its
layout, so every other table still parses).
"""
