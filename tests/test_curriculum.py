"""Task schedulers: adaptive weights follow weakness, floors hold, state round-trips."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spatialevo.dge import TASK_NAMES
from spatialevo.selfplay.curriculum import AdaptiveScheduler, SchedulerError, UniformScheduler, make_scheduler


def test_weights_move_to_the_weakest_task_within_n_updates() -> None:
    s = AdaptiveScheduler(TASK_NAMES)
    assert np.allclose(s.probabilities(), 1 / 16)
    weak = "relative_direction_hard"
    for _ in range(30):  # 30 updates per task
        for t in TASK_NAMES:
            s.update(t, 0.0 if t == weak else 1.0)
    p = s.probabilities()
    assert int(np.argmax(p)) == TASK_NAMES.index(weak)
    assert p[TASK_NAMES.index(weak)] > 0.5
    assert p.min() >= s.floor - 1e-12 and p.sum() == pytest.approx(1.0)


def test_uniform_is_uniform_and_sampling_follows_probabilities() -> None:
    u = UniformScheduler(["a", "b"])
    u.update("a", 1.0)
    assert np.allclose(u.probabilities(), 0.5)
    s = AdaptiveScheduler(["a", "b"], temperature=0.1, floor=0.05)
    for _ in range(50):
        s.update("a", 1.0)
        s.update("b", 0.0)
    rng = np.random.default_rng(0)
    draws = [s.sample(rng) for _ in range(4000)]
    assert draws.count("b") / 4000 == pytest.approx(s.probabilities()[1], abs=0.03)


def test_state_round_trip() -> None:
    s = AdaptiveScheduler(TASK_NAMES, temperature=0.2, floor=0.01)
    for i, t in enumerate(TASK_NAMES):
        s.update(t, (i % 3) / 2)
    state = json.loads(json.dumps(s.state_dict()))
    r = AdaptiveScheduler(TASK_NAMES)
    r.load_state_dict(state)
    assert np.array_equal(r.probabilities(), s.probabilities()) and r.temperature == 0.2
    with pytest.raises(SchedulerError, match="uniform"):
        UniformScheduler(TASK_NAMES).load_state_dict(state)


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.update("nope", 1.0),
        lambda s: s.update("a", 1.5),
        lambda s: s.update("a", float("nan")),
        lambda s: s.update("a", "1"),
        lambda s: AdaptiveScheduler([]),
        lambda s: AdaptiveScheduler(["a", "a"]),
        lambda s: AdaptiveScheduler(["a", "b"], floor=0.9),
        lambda s: AdaptiveScheduler(["a"], temperature=0),
        lambda s: make_scheduler("greedy", ["a"]),
    ],
)
def test_bad_input_is_a_clear_error(call) -> None:
    with pytest.raises(SchedulerError):
        call(AdaptiveScheduler(["a", "b"]))


def test_adaptive_curriculum_is_faster_than_uniform() -> None:
    """benchmarks/curriculum_bench.py: the noisy-oracle learner reaches mean skill 0.8 in fewer episodes."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "curriculum_bench.py"
    spec = importlib.util.spec_from_file_location("curriculum_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--seeds", "8"])
    assert out["median_ratio"] > 1.05, out
    assert sum(r["ratio"] > 1.0 for r in out["rows"]) >= 6, out["rows"]
