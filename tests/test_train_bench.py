"""The launcher's throughput benchmark runs; the DGE stays under 5 % of the step time."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("trl")


def test_train_bench_dge_share(tmp_path) -> None:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "train_bench.py"
    spec = importlib.util.spec_from_file_location("train_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--steps", "10", "--json", str(tmp_path / "t.json")])
    assert out["rollouts_per_s"] > 0 and out["dge_seconds"] > 0
    assert out["dge_share"] < out["target_dge_share"], out
