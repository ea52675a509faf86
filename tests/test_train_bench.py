"""The launcher's throughput benchmark: disjoint DGE, project and model shares of the step time;
the DGE stays under 5 % of the step time after the first step."""

from __future__ import annotations

import json
import time

import pytest
from fixtures import load_benchmark

pytest.importorskip("trl")

CATS = ("dge", "project", "model")


def test_attribution_subtracts_nested_time() -> None:
    """A timed call nested in another is counted once, under its own label, and not in the outer one."""
    att = load_benchmark("train_bench").Attribution()
    inner = att.wrap("dge.inner", lambda: time.sleep(0.1))

    def outer() -> None:
        time.sleep(0.02)
        inner()
        raise ValueError("timers close on exceptions too")

    timed = att.wrap("project.outer", outer)
    att.mark()
    with pytest.raises(ValueError):
        timed()
    att.mark()
    w = att.window(0, 1)["seconds_by"]
    assert w["dge"] >= 0.1 and 0.02 <= w["project"] < 0.1, w  # the 0.1 s of the inner call is not the outer's
    assert w["model"] == 0.0 and w["unattributed"] >= 0.0, w
    assert att.within["project.outer"]["dge"] == pytest.approx(w["dge"]) and att.calls == {"dge.inner": 1, "project.outer": 1}


def test_scripted_question_reads_the_prompt() -> None:
    from spatialevo.selfplay.evidence import Askable
    from spatialevo.selfplay.prompts import questioner_prompt, solver_prompt

    mod = load_benchmark("train_bench")
    q = json.loads(mod.scripted_question(questioner_prompt("absolute_distance", Askable(("chair", "table", "sofa"), ("lamp",)), 4)))
    assert q == {"task": "absolute_distance", "objects": ["chair", "table"]}
    assert json.loads(mod.scripted_question(questioner_prompt("room_size", Askable((), ()), 4))) == {"task": "room_size", "objects": []}
    assert mod.scripted_question(solver_prompt("How far is the chair from the table?", 4)) is None


def test_train_bench_shares(tmp_path) -> None:
    mod = load_benchmark("train_bench")
    out = mod.main(["--steps", "10", "--json", str(tmp_path / "t.json")])
    assert json.loads((tmp_path / "t.json").read_text())["steps"] == 10
    assert out["rollouts_per_s"] > 0 and out["dge_seconds"] > 0
    for window in (out, out["steady"]):
        shares = window["shares"]
        assert all(shares[c] > 0 for c in CATS), shares
        # nothing counted twice (the remainder is not negative) and the timers hold nearly all the time
        assert -0.005 < shares["unattributed"] < 0.1, shares
        assert sum(shares.values()) == pytest.approx(1.0)
    parts = out["parts"]
    for label in ("dge.judge", "dge.sample", "dge.score", "project.rows", "project.rewards", "model.generate", "model.forward"):
        assert parts[label]["calls"] > 0, (label, parts)
    assert parts["model.backward"]["calls"] == 10 and parts["model.generate"]["calls"] == 10
    assert out["dge_seconds"] == pytest.approx(sum(p["wall"] for k, p in parts.items() if k.startswith("dge.")))
    assert out["steady_dge_share"] < out["target_dge_share"], out


def test_generate_time_is_model_time() -> None:
    """A known sleep in the policy's ``generate`` lands in the model share, also when the
    informativeness term generates inside the reward functions (where it used to count as DGE)."""
    mod = load_benchmark("train_bench")
    pause, slept = 0.1, []

    def setup(trainer, stream, rewards) -> None:  # noqa: ANN001
        generate = trainer.model.generate

        def slow(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            time.sleep(pause)
            slept.append(pause)
            return generate(*args, **kwargs)

        trainer.model.generate = slow

    out = mod.main(["--steps", "5", "--questioner", "scripted"], setup=setup)
    n_inf = out["informativeness"]["generate_calls"]
    assert n_inf >= 2 and len(slept) == 5 + n_inf, (n_inf, len(slept))  # TRL's rollouts + the solver groups
    in_rewards = out["in_rewards"]
    assert in_rewards["model"] >= pause * n_inf, in_rewards
    assert in_rewards["dge"] + in_rewards["project"] < pause * n_inf / 2, in_rewards  # not DGE, not project
    assert out["seconds_by"]["model"] >= sum(slept)
    assert out["shares"]["unattributed"] > -0.005, out["shares"]
