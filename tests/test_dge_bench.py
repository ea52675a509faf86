"""The DGE benchmark runs and meets its throughput targets (large margins; see docs/benchmarks.md)."""

from __future__ import annotations

from fixtures import load_benchmark


def test_dge_bench_quick_meets_targets(tmp_path) -> None:
    mod = load_benchmark("dge_bench")
    out = mod.main(["--quick", "--json", str(tmp_path / "dge.json")])
    assert len(out["tasks"]) == 16
    slow = [(r["task"], round(r["questions_per_s"])) for r in out["tasks"] if not r["met"]]
    assert not slow, slow
    assert (tmp_path / "dge.json").is_file()
