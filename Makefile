# Every target sets itself up: a venv in .venv with the CPU build of torch and the project.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
# Transcription uses only basic-pitch's ONNX model file (wavenet_music/notes/transcribe.py);
# its metadata pulls TensorFlow on Linux, so it is installed without its dependencies.
BASIC_PITCH_SPEC ?= basic-pitch==0.4.0
# The demo trains to a fixed amount of work (steps), whatever the machine; DEMO_MINUTES is
# an optional cap on the training time (the demo says so when it cuts training short).
DEMO_WAVENET_STEPS ?= 2000
DEMO_COMPOSER_STEPS ?= 2000
DEMO_MINUTES ?=
CORPUS_MINUTES ?= 8
DATA ?= data/demo
RUN ?= runs/demo
MAKE_START := $(shell date +%s)

.PHONY: demo test bench corpus lint clean system-deps

system-deps:
	bash scripts/install_system_deps.sh

# Debian's python3 creates no venv without python3-venv (its ensurepip): installed first.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c "import ensurepip" 2>/dev/null || bash scripts/install_system_deps.sh python3-venv
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	$(PY) -m pip install -q --no-deps "$(BASIC_PITCH_SPEC)"
	touch $@

# The header names the CPU (tests run ~10x slower on a busy 2-core AVX2 machine than on an
# idle Zen 4), the 15 slowest tests are listed, and the last line gives the wall time, set-up
# included (CI allows 90 minutes); make exits with pytest's status. The tests run in
# TEST_WORKERS processes (pytest-xdist; default one per CPU, at most 4), each test file in
# one of them, so a file's trained fixtures are trained once; TEST_WORKERS=0: one process.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); echo $$(( n < 4 ? n : 4 )))
PYTEST := $(PY) -m pytest --durations=15 $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)
test: $(VENV)/.installed system-deps
	@echo "$(PYTEST)"; \
	tests=$$(date +%s); $(PYTEST); status=$$?; end=$$(date +%s); \
	echo "make test: pytest exited $$status after $$(( (end - tests) / 60 )) min" \
		"$$(( (end - tests) % 60 )) s; $$(( (end - $(MAKE_START)) / 60 )) min" \
		"$$(( (end - $(MAKE_START)) % 60 )) s with the set-up"; \
	exit $$status

demo: $(VENV)/.installed system-deps
	$(PY) scripts/demo.py --wavenet-steps $(DEMO_WAVENET_STEPS) \
		--composer-steps $(DEMO_COMPOSER_STEPS) $(if $(DEMO_MINUTES),--minutes $(DEMO_MINUTES)) \
		--corpus-minutes $(CORPUS_MINUTES) --data "$(DATA)" --run "$(RUN)"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check wavenet_music tests benchmarks scripts
	$(VENV)/bin/ruff format --check wavenet_music tests benchmarks scripts

corpus: $(VENV)/.installed system-deps
	$(PY) scripts/build_demo_corpus.py --out "$(DATA)" --minutes $(CORPUS_MINUTES)

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_generate.py
	$(PY) benchmarks/bench_train.py
	$(PY) benchmarks/bench_composer.py
	$(PY) benchmarks/bench_decode.py
	$(PY) benchmarks/bench_transcribe.py
	$(PY) benchmarks/bench_noise_guard.py
	$(PY) benchmarks/bench_cuda.py

clean:
	rm -rf $(VENV) runs out .pytest_cache
