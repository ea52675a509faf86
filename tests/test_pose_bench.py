"""The reduced OFVL-MS reproduction runs (benchmarks/pose_bench.py --quick); figures in docs/pose.md."""

from __future__ import annotations

import pytest
from fixtures import load_benchmark

pytest.importorskip("torch")


def test_pose_bench_quick(tmp_path) -> None:
    mod = load_benchmark("pose_bench")
    out = mod.main(["--quick", "--json", str(tmp_path / "pose.json")])
    rows = {r["variant"]: r for r in out["rows"]}
    assert set(rows) == {"a", "b", "c", "c-gn", "c-pen"}
    # parameter accounting (two scenes)
    assert rows["b"]["params"] < rows["c"]["params"] <= rows["c-pen"]["params"]
    head = 128 * 9 + 9  # per-scene output layer
    assert rows["a"]["params"] == 2 * rows["b"]["params"] - 2 * head  # two full models vs one backbone + two heads
    for r in rows.values():
        assert r["all"]["n"] > 0 and r["all"]["median_t_cm"] > 0
    assert (tmp_path / "pose.json").is_file()
