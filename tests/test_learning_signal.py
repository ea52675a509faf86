"""Learning signal: a solver-only run of the tiny model on a fixed DGE question set raises its
mean DGE reward within a couple of hundred CPU steps (the full curve: docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("trl")


def test_solver_reward_rises(tmp_path) -> None:
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "evolve_learning.py"
    spec = importlib.util.spec_from_file_location("evolve_learning", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--steps", "200", "--block", "50"])
    assert out["last"] > out["first"] + 0.1, out["block_means"]
