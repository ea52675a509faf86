"""The trainer's questioner reward: hostile outputs never raise, re-worded repeats earn no novelty."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("trl")

from dge_scenes import analytic_scene  # noqa: E402

from spatialevo.curriculum import make_scheduler  # noqa: E402
from spatialevo.dge import TASK_NAMES  # noqa: E402
from spatialevo.sources import make_source  # noqa: E402
from spatialevo.train.rewards import SelfPlayRewards  # noqa: E402
from spatialevo.train.stream import SelfPlayStream  # noqa: E402


@pytest.fixture()
def rewards() -> SelfPlayRewards:
    stream = SelfPlayStream(make_source([analytic_scene()]), make_scheduler("uniform", TASK_NAMES), image_size=32)
    return SelfPlayRewards(stream)


def _ask(rewards: SelfPlayRewards, text: str, task: str = "object_size") -> tuple[float, dict]:
    (q_fn, _), _ = rewards.functions()
    cols = {"role": ["questioner"], "scene": [0], "task": [task], "frames": [json.dumps(["f0", "f1"])], "question": [""], "row": [0]}
    out = q_fn(prompts=[None], completions=[text], **cols)[0]
    return out, rewards.history[-1]["parts"][0]


@pytest.mark.parametrize("text", ['{"a":' * 1300 + "1" + "}" * 1300, "[" * 8000, "{" * 8192])
def test_nested_json_scores_zero_without_raising(rewards, text):
    assert _ask(rewards, text)[0] == 0.0


def test_reworded_repeats_earn_no_novelty_across_steps(rewards):
    first, parts = _ask(rewards, '{"task": "object_size", "objects": ["tv"]}')
    assert parts["novelty"] == 1.0 and first == pytest.approx(1.0)
    rewards.flush()  # the step end: asked questions enter the novelty memory (canonical form)
    for variant in ('["TV"]', '["tv#5"]', '[" Tv "]'):
        _, parts = _ask(rewards, f'{{"task": "object_size", "objects": {variant}}}')
        assert parts["novelty"] == 0.5, variant
    _, parts = _ask(rewards, '{"task": "relative_direction_hard", "objects": ["sofa", "tv", "lamp"], "params": {"level": "hard"}}',
                    task="relative_direction_hard")
    rewards.flush()
    _, again = _ask(rewards, '{"task": "relative_direction_hard", "objects": ["Sofa", "tv#5", "lamp"], "params": {"level": "HARD"}}',
                    task="relative_direction_hard")
    assert parts["novelty"] == 1.0 and again["novelty"] == 0.5
