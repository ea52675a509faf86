"""The environment / generation benchmark runs and meets its targets (see docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def test_env_bench_quick_meets_targets(tmp_path) -> None:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "env_bench.py"
    spec = importlib.util.spec_from_file_location("env_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--quick", "--json", str(tmp_path / "env.json")])
    assert out["step_no_images_ms"] < out["targets"]["step_no_images_ms"]
    assert out["generate_qa_per_s"] >= out["targets"]["generate_qa_per_s"], out["generate_qa_per_s"]
    assert (tmp_path / "env.json").is_file()
