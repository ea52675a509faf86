# spatialevo — two commands on a fresh machine:
#   make demo   set up .venv and run the main job on the bundled scenes
#   make test   set up .venv and run the test suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
OUT    ?= out/demo

.PHONY: setup demo test test-lmms-eval test-ray test-rerun lint bench gpu-bench clean
LMMS_VENV ?= .venv-lmms-eval
RAY_VENV  ?= .venv-ray

$(VENV)/.installed: pyproject.toml
	@# open3d needs the system library libusb-1.0 (install it when missing; root on CI machines)
	@ldconfig -p 2>/dev/null | grep -q libusb-1.0 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get update -qq || true) && apt-get install -y -qq libusb-1.0-0 >/dev/null; \
	  else echo "warning: libusb-1.0 missing; install it (e.g. apt-get install libusb-1.0-0) for open3d" >&2; fi; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	@# torch 2.13.0 first: a CPU wheel already on disk here (only the training extras use it)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e ".[dev,train,video]"
	@touch $@

setup: $(VENV)/.installed

demo: setup
	$(PY) -m spatialevo.cli.main demo --out $(OUT)

test: setup
	$(PY) -m ruff check spatialevo tests benchmarks scenes
	$(PY) -m pytest -q -p no:cacheprovider

# lmms-eval in its own virtualenv (it pulls torchvision and many pins; the main .venv stays as it is):
# the CPU torch first so nothing pulls a CUDA build, then the package and lmms-eval, then its test
$(LMMS_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(LMMS_VENV)
	$(LMMS_VENV)/bin/python -m pip install -q --upgrade pip
	$(LMMS_VENV)/bin/python -m pip install -q torch==2.13.0
	@echo "torch==2.13.0" > $(LMMS_VENV)/constraints.txt   # lmms-eval's own pins must not swap in a CUDA torch
	$(LMMS_VENV)/bin/python -m pip install -q -c $(LMMS_VENV)/constraints.txt -e ".[dev]" "datasets>=4.0" lmms-eval
	@# PyPI's torchvision is built for the CUDA torch and does not load beside the CPU one; transformers
	@# and lmms-eval's task machinery run without it
	$(LMMS_VENV)/bin/python -m pip uninstall -q -y torchvision
	$(LMMS_VENV)/bin/python -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	@touch $@

test-lmms-eval: $(LMMS_VENV)/.installed
	$(LMMS_VENV)/bin/python -m pytest -q -p no:cacheprovider -rs tests/test_lmms_eval_task.py

# Ray (generate --backend ray) in its own virtualenv: the package with its ray extra, then the test
# that starts a 2-CPU local cluster, kills a run, resumes it and compares it with --backend local
$(RAY_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(RAY_VENV)
	$(RAY_VENV)/bin/python -m pip install -q --upgrade pip
	$(RAY_VENV)/bin/python -m pip install -q -e ".[dev,ray]"
	@touch $@

test-ray: $(RAY_VENV)/.installed
	$(RAY_VENV)/bin/python -m pytest -q -p no:cacheprovider -rs tests/test_ray_backend.py

# The rerun viewer (spatialevo scene view, the rerun extra): installed into .venv (a wheel of its own, no
# pins that move the others), then the test that logs a bundled scene to an .rrd file and reads it back
test-rerun: setup
	$(PIP) install -q -e ".[dev,train,video,rerun]"
	$(PY) -m pytest -q -p no:cacheprovider -rs tests/test_scene_export.py -k rerun

# GPU step benchmark (benchmarks/gpu_bench.py): Qwen2.5-VL-3B's architecture with random weights, full fine-tuning
# (float32 + bf16 autocast, and pure bf16) and LoRA at configs/1gpu-3b.yaml's batch, < 8 minutes on one H200, one JSON
# line per setting (also appended to out/gpu_bench.jsonl). Runs in the GPU machine's own python3 (torch with CUDA,
# transformers, peft), not in .venv: no trl, datasets, vllm or open3d needed.
gpu-bench:
	@mkdir -p out
	$(PYTHON) benchmarks/gpu_bench.py --json out/gpu_bench.jsonl

lint: setup
	$(PY) -m ruff check .

bench: setup
	$(PY) benchmarks/scene_bench.py
	$(PY) benchmarks/dge_bench.py
	$(PY) benchmarks/curriculum_bench.py
	$(PY) benchmarks/env_bench.py
	$(PY) benchmarks/integrity_bench.py
	$(PY) benchmarks/pose_bench.py
	$(PY) benchmarks/train_bench.py
	$(PY) benchmarks/evolve_learning.py

clean:
	rm -rf $(VENV) out .pytest_cache .ruff_cache
