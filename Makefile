# protobrain: `make demo` runs the main job, `make test` the test suite.
# Both set up everything they need on a fresh Debian machine: system packages
# (apt-get) and a virtual environment in .venv/ with the Python packages.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MODELS ?= ../shared/models
OUT    ?= out
JOBS   ?= 2

.PHONY: setup system venv test test-fast demo demo-tiny models bench eval fuzz clean help

help:
	@echo "make demo   - the protobrain: train three nets, bundle them, run see/listen/speak/loop in QEMU: out/REPORT.md"
	@echo "make demo-tiny - the same with smaller nets on a Cortex-M0 with 16 KB of RAM (qemu-microbit): out/tiny/REPORT.md"
	@echo "make models - compile every reference model to C, check it bit-exact against TFLite Micro: out/models/REPORT.md"
	@echo "make test   - full test suite (installs what it needs first)"
	@echo "make bench  - exact instruction counts of every reference model on the simulated M4, M7, M33, M55: BENCHMARKS.md"
	@echo "make eval   - train the vision, speech and synth nets at full size and measure them: EVAL.md"
	@echo "make fuzz   - 100,000 hostile models, libFuzzer on the serial protocol (1,000,000 executions each on a model firmware and the bundle), a 10,000-round QEMU soak"
	@echo "make setup  - only install: Debian packages and the .venv virtual environment"
	@echo "make clean  - remove build outputs (keeps .venv)"

setup: system venv

system:
	@scripts/setup-system.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[train,test,scale]'
	@touch $@

test: setup
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile -q -p no:cacheprovider

test-fast: setup
	$(BIN)/python -m pytest -n $(JOBS) --dist loadfile -q -p no:cacheprovider -m "not slow"

demo: setup
	$(BIN)/python scripts/demo.py --out $(OUT)

demo-tiny: setup
	$(BIN)/python scripts/demo.py --profile tiny --out $(OUT)/tiny

models: setup
	$(BIN)/python scripts/models.py --models $(MODELS) --out $(OUT)/models

bench: setup
	$(BIN)/python scripts/bench.py --models $(MODELS) --out bench --markdown BENCHMARKS.md

eval: setup
	$(BIN)/python scripts/eval.py --out eval --markdown EVAL.md

fuzz: setup
	$(BIN)/python scripts/fuzz_models.py --models $(MODELS) --out build/fuzz-models
	$(BIN)/python scripts/fuzz_protocol.py --models $(MODELS) --out build/fuzz --runs 1000000
	$(BIN)/python scripts/soak.py --models $(MODELS) --out build/soak -n 10000

clean:
	rm -rf $(OUT) bench eval build *.egg-info
