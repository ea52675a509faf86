"""The environment / generation benchmark runs and meets its targets (see docs/benchmarks.md)."""

from __future__ import annotations

from fixtures import load_benchmark


def test_env_bench_quick_meets_targets(tmp_path) -> None:
    mod = load_benchmark("env_bench")
    out = mod.main(["--quick", "--json", str(tmp_path / "env.json")])
    assert out["step_no_images_ms"] < out["targets"]["step_no_images_ms"]
    assert out["generate_qa_per_s"] >= out["targets"]["generate_qa_per_s"], out["generate_qa_per_s"]
    assert (tmp_path / "env.json").is_file()
