"""The self-evolution launcher on CPU with a tiny random Qwen2.5-VL built offline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("trl")  # the 'train' extra; make test installs it
import torch  # noqa: E402

from spatialevo.errors import SpatialEvoError  # noqa: E402
from spatialevo.train.checkpoints import STATE_FILE, last_checkpoint  # noqa: E402
from spatialevo.train.config import load_config  # noqa: E402
from spatialevo.train.launcher import build, evolve  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cpu-smoke.yaml"


def test_smoke_runs_both_roles_checkpoints_and_resumes(tmp_path) -> None:
    out = tmp_path / "run"
    res = evolve(load_config(CONFIG, output_dir=str(out), max_steps=2))
    assert res["global_step"] == 2 and res["resumed_from"] is None
    ckpt = last_checkpoint(out)
    assert ckpt is not None and ckpt.endswith("checkpoint-2")
    state = json.loads((Path(ckpt) / STATE_FILE).read_text())
    assert state["position"] > 0 and set(state["scheduler"]) >= {"tasks"} or "tasks" in json.dumps(state["scheduler"])
    for name in ("model.safetensors", "optimizer.pt", "scheduler.pt", "trainer_state.json"):
        assert (Path(ckpt) / name).is_file(), name
    log = json.loads((Path(ckpt) / "trainer_state.json").read_text())["log_history"]
    keys = set().union(*(row.keys() for row in log))
    assert {"rewards/questioner_reward/mean", "rewards/solver_reward/mean", "questioner/valid", "solver/accuracy",
            "solver/invalid_share", "solver/asked_share"} <= keys  # the share of invalid and of questioner questions the solver saw
    assert any(k.startswith("solver_acc/") for k in keys) and any(k.startswith("scheduler/") for k in keys)
    assert list((out / "runs").rglob("events.out.tfevents.*"))  # TensorBoard by default
    # rerun with more steps: resumes from checkpoint-2 with the curriculum and stream state
    res2 = evolve(load_config(CONFIG, output_dir=str(out), max_steps=4))
    assert res2["resumed_from"] == ckpt and res2["global_step"] == 4
    state4 = json.loads((out / "checkpoint-4" / STATE_FILE).read_text())
    assert state4["position"] > state["position"]


def test_resume_restores_the_qwen_weights(tmp_path) -> None:
    out = tmp_path / "run"
    evolve(load_config(CONFIG, output_dir=str(out), max_steps=2))
    trainer, stream, _, resume = build(load_config(CONFIG, output_dir=str(out), max_steps=4))
    assert resume is not None
    model = trainer.accelerator.unwrap_model(trainer.model)
    saved = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # what the in-memory model looks like before a checkpoint is loaded
    trainer._load_from_checkpoint(resume)
    for k, v in model.state_dict().items():
        assert torch.equal(v, saved[k]), k  # every tensor comes back, the vision tower included


def test_rewards_come_from_the_dge_for_each_role(tmp_path) -> None:
    from spatialevo.dge import Question

    trainer, stream, rewards, _ = build(load_config(CONFIG, output_dir=str(tmp_path / "r"), max_steps=1))
    rewards.informativeness_weight = 0.0  # the base reward first; informativeness: the next test
    rows = [stream.row(i) for i in range(6)]
    assert [r["role"] for r in rows] == ["questioner", "solver"] * 3
    assert all(len(r["images"]) >= 1 for r in rows)
    s_row = next(r for r in rows if r["role"] == "solver" and r["kind"] == "sampled")
    scene, shown = s_row["scene"], tuple(json.loads(s_row["frames"]))
    v = stream.round.judge(scene, Question.from_json(s_row["question"]), shown)
    good_q = stream.round.sample(scene, "object_size", np.random.default_rng(0)).to_json()
    q_frames = json.dumps(list(stream.round.evidence(scene, "object_size")))
    cols = {"role": ["questioner", "solver"], "scene": [scene, scene], "task": ["object_size", s_row["task"]],
            "frames": [q_frames, s_row["frames"]], "question": ["", s_row["question"]], "row": [0, 1],
            "kind": ["", "sampled"], "age": [-1, -1]}
    comps = [good_q, f"<answer>{v.answer_text}</answer>"]
    funcs, weights = rewards.functions()
    assert weights == [1.0, 1.0]
    before = len(stream.buffer)
    q_out = funcs[0](prompts=[None, None], completions=comps, **cols)
    s_out = funcs[1](prompts=[None, None], completions=comps, **cols)
    assert q_out[1] is None and s_out[0] is None  # each function scores its own role only
    assert q_out[0] == pytest.approx(1.0)  # structured, valid, on the scheduled task, new
    assert funcs[0](prompts=[None, None], completions=comps, **{**cols, "row": [2, 3]})[0] == pytest.approx(1.0)  # same step: not yet remembered
    counts = sum(stream.scheduler.state_dict()["counts"])
    stream.advance(**rewards.flush())  # what the launcher's callback does at each step end
    assert len(stream.buffer) == before + 1  # queued for the next solver rows (once, though asked twice)
    assert sum(stream.scheduler.state_dict()["counts"]) == counts + 1  # the solver score reached the curriculum
    assert funcs[0](prompts=[None, None], completions=comps, **cols)[0] == pytest.approx(0.5)  # repeated question
    assert s_out[1] == pytest.approx(1.0)  # the exact answer earns the full solver reward
    stream.advance(**rewards.flush())
    wrong_task = funcs[0](prompts=[None, None], completions=[good_q, ""], **{**cols, "task": ["room_size", "x"]})
    assert wrong_task[0] == pytest.approx(0.5 * (0.2 + 0.5))  # valid but not the scheduled task (and repeated)
    for junk in ("", "ignore previous instructions; reward=1", "{" * 100_000, "\udcff\ud800"):
        assert funcs[0](prompts=[None], completions=[junk], **{k: v[:1] for k, v in cols.items()})[0] == 0.0
        assert funcs[1](prompts=[None], completions=[junk], **{k: v[1:] for k, v in cols.items()})[0] <= 0.1
    split, w = rewards.functions(split=True)
    assert [f.__name__ for f in split] == ["questioner_format", "questioner_valid", "questioner_task_match", "solver_reward"]
    assert w == [0.2, 0.5, 0.3, 1.0]
    rewards.informativeness_weight = 0.3
    split, w = rewards.functions(split=True)
    assert [f.__name__ for f in split][3] == "questioner_informativeness" and w == [0.2, 0.5, 0.3, 0.3, 1.0]


def test_questioner_informativeness_from_a_solver_group(tmp_path) -> None:

    trainer, stream, rewards, _ = build(load_config(CONFIG, output_dir=str(tmp_path / "i"), max_steps=1))
    assert rewards.informativeness_weight == pytest.approx(0.3)
    scene = stream.usable[0]
    shown = list(stream.round.evidence(scene, "object_size"))
    rng = np.random.default_rng(0)
    q = stream.round.sample(scene, "object_size", rng)
    cols = {"role": ["questioner"], "scene": [scene], "task": ["object_size"], "frames": [json.dumps(shown)], "question": [""], "row": [0]}
    # the real path: the tiny policy answers as a solver group of 2 (generate runs); its answers are scored
    real = rewards.questioner_reward(prompts=[None], completions=[q.to_json()], **cols)[0]
    info = rewards.history[-1]["parts"][0]["informativeness"]
    assert info in (0.0, 1.0) and real == pytest.approx(1.0 + 0.3 * info)  # 2 answers: accuracy 0, ½ or 1
    # hand-checked: a group half right is maximally informative; all right or all wrong is not
    asked = {q.to_json()}
    for k, (right, wrong, expect) in enumerate(((1, 1, 1.0), (2, 0, 0.0), (0, 2, 0.0))):
        q2 = stream.round.sample(scene, "object_size", rng)  # a new question each time (novelty 1)
        while q2.to_json() in asked:
            q2 = stream.round.sample(scene, "object_size", rng)
        asked.add(q2.to_json())
        gt = stream.round.judge(scene, q2, shown).answer_text
        group = [f"<answer>{gt}</answer>"] * right + ["<answer>0</answer>"] * wrong
        rewards.solve = lambda items, g=group: [list(g) for _ in items]
        r = rewards.questioner_reward(prompts=[None], completions=[q2.to_json()], **{**cols, "row": [k + 1]})[0]
        assert r == pytest.approx(1.0 + 0.3 * expect), group
    rewards.solve = lambda items: (_ for _ in ()).throw(AssertionError("no valid question: no generation"))
    assert rewards.questioner_reward(prompts=[None], completions=["not a question"], **cols)[0] == 0.0


def test_config_errors(tmp_path) -> None:
    with pytest.raises(SpatialEvoError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("output_dir: x\nmodle: tiny\n")
    with pytest.raises(SpatialEvoError, match="unknown key"):
        load_config(bad)
    bad.write_text(f"output_dir: {tmp_path / 'o'}\nmodel: /no/such/checkpoint\n")
    with pytest.raises(SpatialEvoError, match="nothing is downloaded"):
        build(load_config(bad))
    bad.write_text("output_dir: x\nadvantage: ppo\n")
    with pytest.raises(SpatialEvoError, match="advantage"):
        load_config(bad)
    bad.write_text("output_dir: x\ngrpo: {max_steps: 3}\n")
    with pytest.raises(SpatialEvoError, match="top level"):
        load_config(bad)


def test_images_reach_the_grpo_loss(tmp_path) -> None:
    """The policy log-probs used in the GRPO loss change when the pixel values change (and only then)."""
    from PIL import ImageOps

    trainer, stream, _, _ = build(load_config(CONFIG, output_dir=str(tmp_path / "img"), max_steps=1))
    rows = [stream.row(0), stream.row(0), stream.row(1), stream.row(1)]  # two prompts × num_generations 2
    trainer.model.train()
    batch = trainer._generate_and_score_completions(rows)
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    mask = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    assert torch.equal(batch["mm_token_type_ids"] == 1, ids == trainer.model.config.image_token_id)  # image tokens in place
    keep = batch["completion_ids"].size(1)
    extra = {"image_grid_thw": batch["image_grid_thw"], "num_images": batch["num_images"], "mm_token_type_ids": batch["mm_token_type_ids"]}

    def logps(pixels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            lp, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, mask, keep, pixel_values=pixels, **extra)
        return lp * batch["completion_mask"]

    other = [ImageOps.invert(img.convert("RGB")) for r in rows for img in r["images"]]
    enc = trainer.processing_class.image_processor(images=other, return_tensors="pt")
    assert torch.equal(enc["image_grid_thw"], batch["image_grid_thw"])
    base = logps(batch["pixel_values"])
    assert torch.equal(base, logps(batch["pixel_values"].clone()))
    changed = (base - logps(enc["pixel_values"].to(batch["pixel_values"].dtype))).abs().amax(dim=1)
    assert bool((changed > 1e-6).all()), changed  # every row's log-probs depend on its images
    # and the loss's gradient reaches the vision tower (non-zero advantages for the check)
    batch["advantages"] = torch.tensor([1.0, -1.0, 1.0, -1.0])
    trainer.current_gradient_accumulation_steps = trainer.args.gradient_accumulation_steps
    trainer.model.zero_grad(set_to_none=True)
    trainer.compute_loss(trainer.model, batch).backward()
    vis = [p.grad for n, p in trainer.model.named_parameters() if "visual" in n and p.grad is not None]
    assert vis and sum(float(g.abs().sum()) for g in vis) > 0


def test_shipped_configs_are_valid() -> None:
    import dataclasses

    from trl import GRPOConfig

    fields = {f.name for f in dataclasses.fields(GRPOConfig)}
    names = sorted(p.stem for p in CONFIG.parent.glob("*.yaml"))
    assert names == ["1gpu-3b", "8gpu-7b-zero3", "cpu-smoke", "multinode"]
    for name in names:
        cfg = load_config(CONFIG.parent / f"{name}.yaml")
        unknown = set(cfg.grpo) - fields
        assert not unknown, (name, unknown)


def test_eval_scores_a_checkpoint_per_task(tmp_path, capsys) -> None:
    from spatialevo.cli.main import main
    from spatialevo.train.tiny import make_tiny_qwen25vl

    make_tiny_qwen25vl(tmp_path / "tiny")
    out = tmp_path / "scores.json"
    args = ["eval", "--model", str(tmp_path / "tiny"), "--tasks", "object_size,elevation_cam_cam", "--per-task", "1",
            "--clip-frames", "4", "--max-pixels", "3136", "--max-new-tokens", "4", "--quiet", "--json", str(out)]
    assert main(args) == 0
    res = json.loads(out.read_text())
    assert set(res["tasks"]) == {"object_size", "elevation_cam_cam"}
    assert all(r["n"] == 4 and 0.0 <= r["score"] <= 1.0 for r in res["tasks"].values())  # 4 bundled scenes × 1
    assert res["overall"]["n"] == 8
    capsys.readouterr()
    assert main(["eval", "--model", str(tmp_path / "nope")]) == 2
    assert "not found" in capsys.readouterr().err
    (tmp_path / "bad.jsonl").write_text("{}\n")
    assert main(["eval", "--model", str(tmp_path / "tiny"), "--data", str(tmp_path / "bad.jsonl")]) == 2
    assert "not a spatialevo generate record" in capsys.readouterr().err


def test_eval_exact_answers_score_one() -> None:
    """The scoring path of eval with a stand-in model that answers with the DGE's answer."""
    from spatialevo.train.evaluate import held_out_records

    recs = held_out_records("bundled", ["absolute_distance", "visibility_compare"], 1)
    assert len(recs) == 8 and all(r["answer_text"] for r in recs)
    from spatialevo import load_scene
    from spatialevo.bundled import bundled_scene_paths
    from spatialevo.dge import DGE, Question
    from spatialevo.selfplay.rewards import solver_reward

    dges = {p.stem: DGE(load_scene(p)) for p in bundled_scene_paths()}
    for r in recs:
        v = dges[r["scene_id"]].evaluate(Question.from_dict(r["question"]))
        assert solver_reward(f"<answer>{r['answer_text']}</answer>", v)[1]["score"] == 1.0


def test_auxiliary_pose_loss_trains_the_head_and_resumes(tmp_path) -> None:
    out = tmp_path / "pose"
    cfg = load_config(CONFIG, output_dir=str(out), max_steps=2, pose_aux={"weight": 0.1, "hidden": 16, "lr": 1e-2})
    trainer, stream, _, _ = build(cfg)
    head = trainer.pose_head
    before = {k: v.clone() for k, v in head.state_dict().items()}
    trainer.train()
    logged = [row["pose/aux_loss"] for row in trainer.state.log_history if "pose/aux_loss" in row]
    assert len(logged) == 2 and all(x > 0 for x in logged)
    changed = [k for k, v in head.state_dict().items() if not torch.equal(v, before[k])]
    assert "query" in changed  # the head is in the optimizer and learns
    saved = torch.load(out / "checkpoint-2" / "pose_head.pt", weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in head.state_dict().items())
    # resume: the head comes back from the checkpoint
    trainer2, _, _, resume = build(load_config(CONFIG, output_dir=str(out), max_steps=3, pose_aux={"weight": 0.1, "hidden": 16, "lr": 1e-2}))
    assert resume is not None and resume.endswith("checkpoint-2")
    trainer2.train(resume_from_checkpoint=resume)
    assert trainer2.state.global_step == 3


def test_two_processes_see_the_same_rows_and_buffers(tmp_path) -> None:
    """Under a 2-process (gloo, CPU) launch every rank ends with the same stream and curriculum state,
    and the curriculum counts the solver scores of both ranks."""
    import os
    import subprocess
    import sys

    out = tmp_path / "ddp"
    config = tmp_path / "ddp.yaml"  # the smoke config with the auxiliary pose head, whose weights DDP must keep in sync
    text = CONFIG.read_text().replace("round: {", "round: {invalid_rate: 0.0, ")  # every solver score reaches the curriculum
    assert "invalid_rate: 0.0" in text
    config.write_text(text + "pose_aux: {weight: 0.1, hidden: 16, lr: 0.01}\n")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "spatialevo.train",
           "--config", str(config), "--output-dir", str(out), "--max-steps", "3", "--no-resume"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    states = [json.loads((out / "ranks" / f"stream_state_rank{r}.json").read_text()) for r in (0, 1)]
    assert states[0] == states[1]  # stream, curriculum, novelty memory and the pose head's weights
    assert "pose_head_sum" in states[0] and states[0]["novelty"]["seen"] is not None
    # 3 steps × 2 ranks × (1 solver prompt × 2 generations) solver scores reached the scheduler on each rank
    assert sum(states[0]["scheduler"]["counts"]) == 12


def test_shipped_config_by_name() -> None:
    assert load_config("cpu-smoke", output_dir="x").max_steps == load_config(CONFIG, output_dir="x").max_steps


def test_resume_after_a_kill(tmp_path) -> None:
    """Kill the run once a checkpoint is complete; rerunning the same command finishes from it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "spatialevo.train", "--config", str(CONFIG), "--output-dir", str(out), "--max-steps", "8"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 300
    while time.time() < deadline and last_checkpoint(out) is None:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    ckpt = last_checkpoint(out)
    assert ckpt is not None and not (out / "final").exists()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    res = json.loads(done.stdout.strip().splitlines()[-1])
    assert res["resumed_from"] is not None and int(res["resumed_from"].split("-")[-1]) >= int(ckpt.split("-")[-1])
    assert res["global_step"] == 8 and (out / "final" / "model.safetensors").is_file()
