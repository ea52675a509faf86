"""The launcher's throughput benchmark runs; the DGE stays under 5 % of the step time."""

from __future__ import annotations

import pytest
from fixtures import load_benchmark

pytest.importorskip("trl")


def test_train_bench_dge_share(tmp_path) -> None:
    mod = load_benchmark("train_bench")
    out = mod.main(["--steps", "10", "--json", str(tmp_path / "t.json")])
    assert out["rollouts_per_s"] > 0 and out["dge_seconds"] > 0
    assert out["dge_share"] < out["target_dge_share"], out
