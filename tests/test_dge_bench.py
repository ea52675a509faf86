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


def test_dge_bench_batch_mode_reports_the_loop_and_the_batch(tmp_path) -> None:
    """``--batch``: distinct questions, GRPO groups and warm-cache groups, each timed as a loop of
    ``evaluate`` and as ``evaluate_many`` in one run; a GRPO group meets issue #16's target,
    >= 100,000 q/s and >= 2x the loop (measured 266k q/s and 8.3x in this quick mode, so a machine
    half as fast still passes; the ratio is asked at 4x)."""
    mod = load_benchmark("dge_bench")
    out = mod.main(["--batch", "--quick", "--json", str(tmp_path / "batch.json")])
    cases = {r["case"]: r for r in out["cases"]}
    assert set(cases) == {"distinct", "groups of 8", "groups of 8, warm cache"}
    assert cases["groups of 8"]["questions"] == 8 * cases["distinct"]["questions"] > 0
    assert cases["groups of 8"]["speedup"] >= 4 and cases["groups of 8"]["batch_per_s"] >= 100_000, cases
    assert cases["groups of 8, warm cache"]["batch_per_s"] > cases["groups of 8"]["batch_per_s"], cases
    assert cases["distinct"]["speedup"] > 1, cases
    assert set(out["profile"]) == {"object_counting", "object_size", "absolute_distance", "relative_distance", "relative_direction_hard", "room_size"}
    assert (tmp_path / "batch.json").is_file()
