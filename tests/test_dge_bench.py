"""The DGE benchmark runs and meets its throughput targets (large margins; see docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def test_dge_bench_quick_meets_targets(tmp_path) -> None:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "dge_bench.py"
    spec = importlib.util.spec_from_file_location("dge_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--quick", "--json", str(tmp_path / "dge.json")])
    assert len(out["tasks"]) == 16
    slow = [(r["task"], round(r["questions_per_s"])) for r in out["tasks"] if not r["met"]]
    assert not slow, slow
    assert (tmp_path / "dge.json").is_file()
