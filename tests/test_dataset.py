"""``spatialevo.create_dataset`` and ``spatialevo.score_answer`` (issue #14, item 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import spatialevo
from spatialevo.dataset import qa_record
from spatialevo.dge import TASK_NAMES, Question
from spatialevo.errors import SpatialEvoError
from spatialevo.generate import GenerateConfig, generate, merge
from spatialevo.selfplay import Round
from spatialevo.selfplay.rewards import solver_reward

ANSWERS = ("<answer>{gt}</answer>", "{gt}", "The answer is {gt}.", "<answer>maybe {gt}</answer>", "<answer>not {gt}</answer>",
           "<answer>{gt} or 3</answer>", "<answer>0</answer>", "<answer>front-left</answer>", "<answer>ambiguous_label</answer>",
           "<answer>not_in_evidence</answer>", "", "<answer>{gt} meters</answer>")


def test_score_answer_is_the_training_rewards_score_on_every_record(tmp_path) -> None:
    generate(GenerateConfig(out=tmp_path / "qa", per_task=3, images=False), progress=False)
    records = [json.loads(x) for x in merge(tmp_path / "qa").read_text().splitlines()]
    rnd = Round("bundled")
    bad = rnd.sampled_solver_turn(rnd.names[0], "object_size", np.random.default_rng(0), invalid=True)
    records.append(qa_record(bad, "invalid-0"))  # an invalid question: its reason code is the answer
    assert {r["task"] for r in records} == set(TASK_NAMES) and records[-1]["reason"] == bad.verdict.reason.value
    ones = 0
    for rec in records:
        verdict = rnd.judge(rec["scene"], Question.from_dict(rec["question"]), tuple(rec["frames"]))
        gt = rec.get("reason") or rec["answer_text"]
        for template in ANSWERS:
            text = template.format(gt=gt)
            got = spatialevo.score_answer(text, rec)
            assert got == solver_reward(text, verdict)[1]["score"], (rec["id"], text)
            ones += got == 1.0
        assert spatialevo.score_answer(f"<answer>{gt}</answer>", rec) == 1.0
        assert spatialevo.score_answer(None, rec) == 0.0
    assert ones >= 2 * len(records)
    with pytest.raises(SpatialEvoError, match="not a spatialevo QA record"):
        spatialevo.score_answer("<answer>1</answer>", {"task": "object_size"})


_CHILD = """
import json, sys, spatialevo
ds = spatialevo.create_dataset(["object_counting", "distance_cam_obj", "visibility_compare"], size=40, seed=7)
print(json.dumps([ds[i] for i in (39, 3, 17, 0)], sort_keys=True))
"""


def test_create_dataset_is_indexed_seeded_and_the_same_in_every_process() -> None:
    ds = spatialevo.create_dataset(["object_counting", "distance_cam_obj", "visibility_compare"], size=40, seed=7)
    assert len(ds) == 40 and ds[-1] == ds[39]
    mine = [ds[i] for i in (0, 3, 17, 39)]  # another order than the child's
    child = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=300, check=True)
    theirs = dict(zip((39, 3, 17, 0), json.loads(child.stdout)))
    assert [json.loads(json.dumps(r, sort_keys=True)) for r in mine] == [theirs[i] for i in (0, 3, 17, 39)]
    assert [r["task"] for r in mine] == ["object_counting", "object_counting", "visibility_compare", "object_counting"]
    assert all(r["index"] == i and r["seed"] == 7 for r, i in zip(mine, (0, 3, 17, 39)))
    for r in mine:  # every record is valid for the frames it shows, and scores 1 with its own answer
        assert ds.score_answer(f"<answer>{r['answer_text']}</answer>", r) == 1.0
    other = spatialevo.create_dataset(["object_counting", "distance_cam_obj", "visibility_compare"], size=40, seed=8)
    assert [other[i]["question"] for i in range(6)] != [ds[i]["question"] for i in range(6)]
    assert len(ds[2:5]) == 3 and ds[2:5][0] == ds[2]


def test_create_dataset_errors_name_the_problem() -> None:
    with pytest.raises(SpatialEvoError, match="unknown task"):
        spatialevo.create_dataset("nope")
    with pytest.raises(SpatialEvoError, match="size"):
        spatialevo.create_dataset(size=0)
    with pytest.raises(SpatialEvoError, match="seed"):
        spatialevo.create_dataset(seed=-1)
    ds = spatialevo.create_dataset("room_size", size=2)
    with pytest.raises(IndexError):
        ds[2]
    with pytest.raises(TypeError):
        ds["0"]
