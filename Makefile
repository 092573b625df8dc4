# Every target sets itself up: a venv in .venv with the CPU build of torch and the project.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
DEMO_MINUTES ?= 13
CORPUS_MINUTES ?= 8
DATA ?= data/demo
RUN ?= runs/demo

.PHONY: demo test bench corpus lint clean system-deps

system-deps:
	bash scripts/install_system_deps.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

test: $(VENV)/.installed system-deps
	$(PY) -m pytest -q

demo: $(VENV)/.installed system-deps
	$(PY) scripts/demo.py --minutes $(DEMO_MINUTES) --corpus-minutes $(CORPUS_MINUTES) \
		--data $(DATA) --run $(RUN)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check wavenet_music tests benchmarks scripts
	$(VENV)/bin/ruff format --check wavenet_music tests benchmarks scripts

corpus: $(VENV)/.installed system-deps
	$(PY) scripts/build_demo_corpus.py --out $(DATA) --minutes $(CORPUS_MINUTES)

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_generate.py
	$(PY) benchmarks/bench_train.py

clean:
	rm -rf $(VENV) runs out .pytest_cache
