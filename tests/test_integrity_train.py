"""The trainer's questioner reward: hostile outputs never raise, re-worded repeats earn no novelty."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("trl")

from dge_scenes import analytic_scene  # noqa: E402

from spatialevo.selfplay import Round  # noqa: E402
from spatialevo.train.rewards import SelfPlayRewards  # noqa: E402


@pytest.fixture()
def rewards() -> SelfPlayRewards:
    return SelfPlayRewards(Round([analytic_scene()]))


def _ask(rewards: SelfPlayRewards, text: str, task: str = "object_size") -> tuple[float, dict]:
    (q_fn, _), _ = rewards.functions()
    shown = list(rewards.round.evidence("analytic", task))  # the clip a questioner of a scene task is shown
    cols = {"role": ["questioner"], "scene": ["analytic"], "task": [task], "frames": [json.dumps(shown)], "question": [""], "row": [0]}
    out = q_fn(prompts=[None], completions=[text], **cols)[0]
    return out, rewards.history[-1]["parts"][0]


@pytest.mark.parametrize("text", ['{"a":' * 1300 + "1" + "}" * 1300, "[" * 8000, "{" * 8192])
def test_nested_json_scores_zero_without_raising(rewards, text):
    assert _ask(rewards, text)[0] == 0.0


def test_reworded_repeats_earn_no_novelty_across_steps(rewards):
    first, parts = _ask(rewards, '{"task": "object_size", "objects": ["tv"]}')
    assert parts["novelty"] == 1.0 and first == pytest.approx(1.0)
    rewards.flush()  # the step end: asked questions enter the novelty memory (canonical form)
    for variant in ('["TV"]', '[" Tv "]'):
        _, parts = _ask(rewards, f'{{"task": "object_size", "objects": {variant}}}')
        assert parts["novelty"] == 0.5, variant
    # an instance reference is refused: no image shows which "tv" is #5 (the DGE alone reads ids)
    assert _ask(rewards, '{"task": "object_size", "objects": ["tv#5"]}') == (0.0, {"format": 0.0, "valid": 0.0, "task_match": 0.0, "novelty": 0.0, "informativeness": 0.0})
    _, parts = _ask(rewards, '{"task": "relative_direction_hard", "objects": ["sofa", "tv", "lamp"], "params": {"level": "hard"}}',
                    task="relative_direction_hard")
    rewards.flush()
    _, again = _ask(rewards, '{"task": "relative_direction_hard", "objects": ["Sofa", "TV", "lamp"], "params": {"level": "HARD"}}',
                    task="relative_direction_hard")
    assert parts["novelty"] == 1.0 and again["novelty"] == 0.5
