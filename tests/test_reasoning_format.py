"""The solver's answer formats (issue #17, item 3): ``direct`` (the default) and ``reasoning``.

Hand-checked outputs with their format part and total reward (``0.1·format + 0.9·score``) for both
formats, the prompts that state each format, the round option that decides it (the env, records
and training share it), the training reward function following it, and the GRPO loss settings of
``configs/1gpu-3b.yaml`` against TRL's ``GRPOConfig`` and docs/training.md.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

from spatialevo.dge import Reason, Verdict
from spatialevo.errors import SpatialEvoError
from spatialevo.selfplay import Round, RoundConfig
from spatialevo.selfplay.prompts import ANSWER_FORMATS, MAX_OUTPUT_CHARS, reasoning_answer, solver_prompt
from spatialevo.selfplay.rewards import solver_reward, solver_reward_of

ROOT = Path(__file__).resolve().parent.parent
#: a valid object_size question whose answer is 95 cm; 100 cm is 5.3 % off: MRA 0.9 (every θ but 0.95)
SIZE = Verdict(True, None, "object_size: 95", 95.0, "95", None, {}, "object_size", "number", "cm")
TIE = Verdict(False, Reason("near_tie"), "invalid", None, "", None, {}, "object_size", "number", "cm")

#: (output, format part, total) in the reasoning format, against SIZE
REASONING_CASES = [
    ("<think>The sofa spans about a metre.</think><answer>95</answer>", 1.0, 1.0),
    ("  <think>\nlong side\n</think>\n\n<answer> 95 cm </answer>\n", 1.0, 1.0),  # whitespace around and between
    ("< THINK >a</ Think ><Answer>95</ANSWER>", 1.0, 1.0),  # tags lenient about spaces and case, as the answer block's
    ("<think>x</think><answer>100</answer>", 1.0, 0.1 + 0.9 * 0.9),  # MRA 0.9
    ("<think>maybe 90 or 100, not 50</think><answer>95</answer>", 1.0, 1.0),  # hedges in the think block are never scored
    ("<think>a</think><answer>95 or 100</answer>", 1.0, 0.1),  # a hedged answer block: format only
    ("<think>a</think><answer>0.95 m</answer>", 1.0, 1.0),  # the scorer reads the block as a direct reply (units)
    # attacks and slips: format 0 and score 0
    ("<answer>95</answer>", 0.0, 0.0),  # no think block
    ("95", 0.0, 0.0),  # no blocks at all (direct pays 0.9 for this)
    ("<answer>95</answer><think>checked</think>", 0.0, 0.0),  # think after the answer
    ("<think>it is <answer>95</answer></think>", 0.0, 0.0),  # the answer inside the think block only
    ("<think>it is <answer>90</answer></think><answer>95</answer>", 0.0, 0.0),  # an answer inside think, another after
    ("<think>a</think><answer>95</answer><answer>100</answer>", 0.0, 0.0),  # two answer blocks (hedging)
    ("<think>a</think><answer>95</answer> <answer>95</answer>", 0.0, 0.0),  # the same answer twice
    ("<think>a</think><think>b</think><answer>95</answer>", 0.0, 0.0),  # two think blocks
    ("<think>a</think><answer>95", 0.0, 0.0),  # unclosed answer
    ("<think>a<answer>95</answer>", 0.0, 0.0),  # unclosed think
    ("<think>a</think><answer>95</answer> I am sure.", 0.0, 0.0),  # text after </answer>
    ("Sure. <think>a</think><answer>95</answer>", 0.0, 0.0),  # text before <think>
    ("<think>a</think> so: <answer>95</answer>", 0.0, 0.0),  # text between the blocks
    ("<think> \n </think><answer>95</answer>", 0.0, 0.0),  # empty think block
    ("<think>a</think><answer> </answer>", 0.0, 0.0),  # empty answer block
    ("<think>a</think><answer><b></b></answer>", 0.0, 0.0),  # an answer block of tags only is empty
    ("</think><think>a<answer>95</answer>", 0.0, 0.0),  # tags out of order
]

#: (output, format part, total) in the direct format, against SIZE: today's rules, unchanged
DIRECT_CASES = [
    ("<answer>95</answer>", 1.0, 1.0),
    ("95", 0.0, 0.9),  # read, but not in the format
    ("<answer>100</answer>", 1.0, 0.1 + 0.9 * 0.9),
    ("<answer>95 or 100</answer>", 1.0, 0.1),
    ("<think>maybe 90</think><answer>95</answer>", 1.0, 1.0),  # the last complete answer block is read
    ("<think>it is <answer>95</answer></think>", 1.0, 1.0),  # other tags are ignored in the direct format
    ("<answer>90</answer> no wait <answer>95</answer>", 1.0, 1.0),
    ("<answer></answer>", 0.0, 0.0),
]


@pytest.mark.parametrize("text,fmt,total", REASONING_CASES)
def test_reasoning_format_hand_checked(text: str, fmt: float, total: float) -> None:
    reward, parts, err = solver_reward(text, SIZE, "reasoning")
    assert parts["format"] == fmt
    assert reward == pytest.approx(total)
    assert bool(err) == (fmt == 0.0)  # every refusal says why
    assert (reasoning_answer(text)[0] is not None) == (fmt == 1.0)


@pytest.mark.parametrize("text,fmt,total", DIRECT_CASES)
def test_direct_format_hand_checked(text: str, fmt: float, total: float) -> None:
    for reward, parts, _ in (solver_reward(text, SIZE), solver_reward(text, SIZE, "direct")):
        assert parts["format"] == fmt
        assert reward == pytest.approx(total)


def test_reasoning_reason_codes_and_record_fields() -> None:
    assert solver_reward("<think>two equal</think><answer>near_tie</answer>", TIE, "reasoning")[0] == pytest.approx(1.0)
    assert solver_reward("<think>two equal</think><answer>95</answer>", TIE, "reasoning")[0] == pytest.approx(0.1)
    assert solver_reward("<answer>near_tie</answer>", TIE, "reasoning")[0] == 0.0
    # solver_reward_of (records' fields) is the same reward
    args = {"valid": True, "kind": "number", "gt": 95.0, "unit": "cm"}
    for text, _, total in REASONING_CASES:
        assert solver_reward_of(text, **args, answer_format="reasoning")[0] == pytest.approx(total)


def test_answer_block_is_what_the_scorer_reads() -> None:
    block, err = reasoning_answer("<think>a</think>\n<answer> 2.5 m </answer>")
    assert (block, err) == ("<answer> 2.5 m </answer>", "")
    assert reasoning_answer("<think>a</think><answer>1</answer>x")[1] == "text outside the <think> and <answer> blocks"
    assert reasoning_answer("<think>a</think><answer>1</answer><answer>2</answer>")[1] == "more than one <answer> tag"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="answer_format"):
        solver_reward("<answer>95</answer>", SIZE, "cot")
    with pytest.raises(ValueError, match="answer_format"):
        solver_prompt("How long is the sofa?", 1, "cot")
    with pytest.raises(SpatialEvoError, match="round.answer_format must be one of direct, reasoning"):
        RoundConfig(answer_format="think")
    with pytest.raises(SpatialEvoError, match="answer_format"):
        RoundConfig.from_dict({"answer_format": None})


def test_long_and_hostile_reasoning_outputs_are_bounded() -> None:
    """A huge think block is read in linear time and paid like a short one; past the output limit
    nothing is read; 8 kB of nested or repeated tags are refused fast."""
    tail = "</think><answer>95</answer>"
    huge = "<think>" + "x" * (MAX_OUTPUT_CHARS - len(tail) - 7) + tail
    assert len(huge) == MAX_OUTPUT_CHARS
    assert solver_reward(huge, SIZE, "reasoning")[0] == pytest.approx(1.0)
    assert solver_reward(huge[:7] + "x" + huge[7:], SIZE, "reasoning")[:2] == (0.0, {"format": 0.0, "score": 0.0})
    hostile = ["<think>" * 1170, "< think " * 1024, "<think>" + "<answer>95</answer>" * 420 + "</think>",
               "<think>" + "< " * 4090 + "</think><answer>1</answer>", "<think>a</think><answer>" + "1 " * 4080 + "</answer>"]
    for text in hostile:
        text = text[:MAX_OUTPUT_CHARS]
        best = float("inf")
        for _ in range(3):  # best of three: the machine may be busy
            t0 = time.process_time()
            solver_reward(text, SIZE, "reasoning")
            best = min(best, time.process_time() - t0)
        assert best < 0.05, (text[:20], best)


def test_prompts_state_the_format() -> None:
    direct = solver_prompt("How long is the sofa?", 2)
    assert direct == solver_prompt("How long is the sofa?", 2, "direct")
    assert direct == ("Role: solver. Answer the spatial question about the scene shown in 2 image(s).\nQuestion: How long is the sofa?\n"
                      "Reply with the answer inside <answer></answer>. If the question cannot be answered exactly, "
                      "answer with the reason code (e.g. <answer>ambiguous_label</answer>).")  # the records' text, unchanged
    assert "think" not in direct
    reasoning = solver_prompt("How long is the sofa?", 2, "reasoning")
    assert reasoning.startswith(direct.split("Reply")[0])
    assert "inside <think></think>" in reasoning and "inside <answer></answer>" in reasoning
    assert "nothing after it" in reasoning and "ambiguous_label" in reasoning
    assert ANSWER_FORMATS == ("direct", "reasoning")


@pytest.fixture(scope="module")
def rounds() -> dict[str, Round]:
    return {f: Round("bundled", RoundConfig(max_pixels=3136, answer_format=f)) for f in ANSWER_FORMATS}


def _solver_turns(rounds: dict[str, Round]):
    rnd = rounds["direct"]
    for name in rnd.names:
        q = rnd.sample(name, "object_size", np.random.default_rng(0))
        if q is not None:
            return name, q, {f: r.solver_turn(name, q, images=False) for f, r in rounds.items()}
    raise AssertionError("no bundled scene has an object_size question")


def test_round_option_sets_the_solver_prompt_only(rounds: dict[str, Round]) -> None:
    assert RoundConfig().answer_format == "direct"
    name, q, turns = _solver_turns(rounds)
    assert turns["direct"].prompt == solver_prompt(turns["direct"].question_text, len(turns["direct"].frames))
    assert turns["reasoning"].prompt == solver_prompt(turns["reasoning"].question_text, len(turns["reasoning"].frames), "reasoning")
    assert turns["direct"].verdict == turns["reasoning"].verdict and turns["direct"].frames == turns["reasoning"].frames
    # the questioner's turn is the same in both formats (its JSON format does not change)
    qt = {f: r.questioner_turn(name, "object_size", np.random.default_rng(5), images=False) for f, r in rounds.items()}
    assert qt["direct"].prompt == qt["reasoning"].prompt and qt["direct"].frames == qt["reasoning"].frames


def test_training_reward_follows_the_round_format(rounds: dict[str, Round]) -> None:
    pytest.importorskip("trl")
    from spatialevo.train.rewards import SelfPlayRewards

    name, q, turns = _solver_turns(rounds)
    v = turns["direct"].verdict
    assert v.valid
    base = {"role": ["solver"] * 3, "scene": [name] * 3, "task": [q.task] * 3, "frames": [json.dumps(list(turns["direct"].frames))] * 3,
            "question": [q.to_json()] * 3, "row": [1] * 3}
    texts = [f"<answer>{v.answer_text}</answer>", f"<think>measured</think><answer>{v.answer_text}</answer>",
             f"<think><answer>{v.answer_text}</answer></think>"]
    completions = [[{"role": "assistant", "content": t}] for t in texts]
    got = {}
    for f, rnd in rounds.items():
        (_, s_fn), _ = SelfPlayRewards(rnd).functions()
        got[f] = s_fn(prompts=[None] * 3, completions=completions, **base)
    assert got["direct"] == pytest.approx([1.0, 1.0, 1.0])
    assert got["reasoning"] == pytest.approx([0.0, 1.0, 0.0])


# ---------------------------------------------------------------------------------- GRPO loss settings
#: the reference setting's loss (ZJU-REAL/SpatialEvo easy_r1/examples/config_spatialevo.yaml and EasyR1's
#: ActorConfig defaults) in TRL's keys; see docs/training.md "GRPO loss settings"
REFERENCE_LOSS = {"beta": 0.01, "epsilon": 0.2, "epsilon_high": 0.3, "delta": 3.0, "loss_type": "dapo",
                  "use_bias_correction_kl": False, "num_iterations": 1}


def test_1gpu_config_states_the_loss_settings() -> None:
    from spatialevo.train.config import load_config

    cfg = load_config(ROOT / "configs" / "1gpu-3b.yaml")  # check_grpo validated the keys when trl is installed
    assert {k: cfg.grpo.get(k) for k in REFERENCE_LOSS} == REFERENCE_LOSS
    assert cfg.round_config().answer_format == "direct"


def test_documented_trl_defaults_match_grpo_config() -> None:
    """docs/training.md's table of loss keys: TRL's defaults as the installed GRPOConfig has them,
    and the reference values as configs/1gpu-3b.yaml states them."""
    trl = pytest.importorskip("trl")
    import dataclasses

    defaults = {f.name: f.default for f in dataclasses.fields(trl.GRPOConfig)}
    text = (ROOT / "docs" / "training.md").read_text()
    section = text.split("## GRPO loss settings", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| `([^`]*)` \| `([^`]*)` \|", section, re.M)
    assert {k for k, _, _ in rows} == set(REFERENCE_LOSS)
    for key, trl_default, reference in rows:
        assert trl_default == str(defaults[key]), key
        assert reference == str(REFERENCE_LOSS[key]), key


def test_env_dataset_and_generate_follow_the_reasoning_format(tmp_path) -> None:
    """The env, ``reward_fn`` and a generate run's manifest use the round's answer format (a
    reasoning reply that is right earns the full reward; the same reply is malformed for direct)."""
    from spatialevo import reward_fn
    from spatialevo.env import SpatialEvoEnv
    from spatialevo.generate import GenerateConfig, generate
    from spatialevo.runfolder import read_manifest

    for reply, expected in (("<think>the floor polygon</think><answer>{gt}</answer>", 1.0), ("<answer>{gt}</answer>", 0.0)):
        env = SpatialEvoEnv(mode="solver", task="room_size", images=False, round_config={"answer_format": "reasoning"})
        obs, info = env.reset(seed=3)
        assert "<think>" in obs["prompt"]
        _, reward, _, _, step = env.step(reply.format(gt=info["ground_truth"]))
        assert reward == pytest.approx(expected), step
    cols = {"answer": ["12.5"], "answer_kind": ["number"], "unit": ["m2"], "options": [None], "reason": [None]}
    assert reward_fn(["<think>a</think><answer>12.5</answer>"], answer_format="reasoning", **cols) == [pytest.approx(1.0)]
    assert reward_fn(["<answer>12.5</answer>"], answer_format="reasoning", **cols) == [0.0]
    kw = {"tasks": ("room_size",), "per_task": 1, "images": False}
    generate(GenerateConfig(out=tmp_path / "d", **kw), progress=False)
    generate(GenerateConfig(out=tmp_path / "r", round=RoundConfig(answer_format="reasoning"), **kw), progress=False)
    assert "answer_format" not in read_manifest(tmp_path / "d")["round"]  # folders written before the option resume
    assert read_manifest(tmp_path / "r")["round"]["answer_format"] == "reasoning"
    with pytest.raises(SpatialEvoError, match="answer_format"):
        generate(GenerateConfig(out=tmp_path / "d", round=RoundConfig(answer_format="reasoning"), **kw), progress=False)


def test_short_generation_lengths_warn_for_the_reasoning_format(caplog) -> None:
    """A config asking for reasoning with completions too short for a think block says so."""
    import logging

    from spatialevo.train.config import load_config

    cfg = Path(__file__).resolve().parents[1] / "configs" / "cpu-smoke.yaml"
    with caplog.at_level(logging.WARNING, logger="spatialevo.train.config"):
        load_config(cfg, output_dir="x")
        assert not caplog.records
        load_config(cfg, output_dir="x", round={"answer_format": "reasoning"})
    assert any("max_new_tokens" in r.getMessage() for r in caplog.records)
    assert any("max_completion_length" in r.getMessage() for r in caplog.records)
