"""Memory options of ``spatialevo evolve`` on CPU: load dtype, LoRA (``peft:``), gradient
checkpointing, ``save_total_limit``, and images that keep their aspect ratio on the way to the model."""

from __future__ import annotations

import zlib
from pathlib import Path

import pytest

pytest.importorskip("trl")  # the 'train' extra
pytest.importorskip("peft")
import torch  # noqa: E402

from spatialevo.errors import SpatialEvoError  # noqa: E402
from spatialevo.train.checkpoints import check_resume, has_model, last_checkpoint  # noqa: E402
from spatialevo.train.config import load_config  # noqa: E402
from spatialevo.train.launcher import build, grpo_args, lora_config  # noqa: E402

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "cpu-smoke.yaml"
ROUND = {"clip_frames": 4, "max_pixels": 84 * 84}  #: the tiny processor's own budget: it resizes nothing again
LORA = {"r": 4}


def _jitter(trainer) -> None:  # noqa: ANN001
    """Add a per-completion term (a hash of its text, in [0, 1)) to every reward: the tiny random
    policy earns the same reward (0) on nearly every completion, so its advantages would be 0 and
    no weight would move."""
    for k, fn in enumerate(trainer.reward_funcs):
        def jittered(prompts, completions, _fn=fn, **kw):  # noqa: ANN001, ANN202
            base = _fn(prompts=prompts, completions=completions, **kw)
            return [None if v is None else v + (zlib.crc32(repr(c).encode()) % 1000) / 1000 for v, c in zip(base, completions)]

        trainer.reward_funcs[k] = jittered


def _lora_cfg(out: Path, max_steps: int):  # noqa: ANN202
    cfg = load_config(CONFIG, output_dir=str(out), max_steps=max_steps, peft=dict(LORA), round=dict(ROUND))
    cfg.grpo = {**cfg.grpo, "save_steps": 1, "gradient_checkpointing": True}  # every step saved; checkpointing with LoRA
    return cfg


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory):  # noqa: ANN001, ANN201
    """Three GRPO steps of the tiny model with LoRA and gradient checkpointing, a checkpoint per step."""
    out = tmp_path_factory.mktemp("lora") / "run"
    trainer, stream, _, resume = build(_lora_cfg(out, 3))
    assert resume is None
    _jitter(trainer)
    seen: dict[str, list] = {"grid": [], "sizes": []}
    generate = trainer._generate_and_score_completions

    def record(inputs):  # noqa: ANN001, ANN202  (what the processor made of the rows' images, as the model gets it)
        batch = generate(inputs)
        seen["grid"] += batch["image_grid_thw"].tolist()
        seen["sizes"] += [img.size for row in inputs for img in row["images"]]
        return batch

    trainer._generate_and_score_completions = record
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}
    trainer.train()
    trainer.save_model(str(out / "final"))  # what evolve() does at the end
    return {"out": out, "trainer": trainer, "before": before, **seen}


def test_wrong_options_are_one_line_errors_before_any_model(tmp_path, capsys) -> None:
    from spatialevo.cli.main import main

    cases = [("peft: {rank: 8}", "peft: unknown key 'rank'; valid keys: r, lora_alpha, lora_dropout, target_modules, freeze_vision"),
             ("peft: {lora_alfa: 8}", "did you mean lora_alpha?"),
             ("peft: {r: '16'}", "peft.r: expected an integer >= 1, got str '16'"),
             ("peft: {freeze_vision: 1}", "peft.freeze_vision: expected true/false"),
             ("peft: {target_modules: []}", "peft.target_modules: expected a non-empty list"),
             ("peft: {lora_dropout: 1.5}", "peft.lora_dropout"),
             ("peft: [q_proj]", "peft must be a mapping"),
             ("model_dtype: bf16", "model_dtype must be one of auto, bfloat16, float16, float32; got 'bf16'"),
             ("model_dtype: float16", "model_dtype float16 needs peft:"),
             ("grpo: {model_init_kwargs: {dtype: bfloat16}}", "set the load dtype as model_dtype at the top level")]
    for k, (line, message) in enumerate(cases):
        out = tmp_path / f"out{k}"
        config = tmp_path / f"c{k}.yaml"
        config.write_text(f"output_dir: {out}\nmodel: tiny\n{line}\n")
        with pytest.raises(SpatialEvoError, match="\\A[^\n]+\\Z") as err:
            load_config(config)
        assert message in str(err.value), (line, str(err.value))
        assert main(["evolve", "--config", str(config)]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()  # refused before the tiny model was built (or anything written)
    ok = load_config(CONFIG, output_dir="x", model_dtype="float16", peft={})
    assert ok.lora_settings()["r"] == 16 and ok.lora_settings()["target_modules"][-1] == "down_proj"


def test_auto_dtype_is_bf16_only_where_adamw_does_not_update_bf16_weights(monkeypatch) -> None:
    """``model_dtype: auto`` with CUDA: bfloat16 for LoRA and DeepSpeed (float32 adapters / master
    weights), float32 for plain full fine-tuning (bf16 autocast over it); CPU: float32."""
    from spatialevo.train.launcher import load_dtype

    full, lora = load_config(CONFIG, output_dir="x"), load_config(CONFIG, output_dir="x", peft=dict(LORA))
    zero = load_config(CONFIG, output_dir="x")
    zero.grpo = {**zero.grpo, "deepspeed": "configs/accelerate/zero3.json"}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert (load_dtype(full), load_dtype(lora), load_dtype(zero)) == ("float32", "bfloat16", "bfloat16")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert (load_dtype(full), load_dtype(lora), load_dtype(zero)) == ("float32", "float32", "float32")


def test_grpo_defaults_dtype_and_save_total_limit() -> None:
    args = grpo_args(load_config(CONFIG, output_dir="x"))
    assert args.save_total_limit == 2
    assert args.model_init_kwargs["dtype"] == "float32" or torch.cuda.is_available()  # auto on CPU
    cfg = load_config(CONFIG, output_dir="x", model_dtype="bfloat16")
    cfg.grpo = {**cfg.grpo, "save_total_limit": 5, "model_init_kwargs": {"attn_implementation": "sdpa"}}
    args = grpo_args(cfg)
    assert args.save_total_limit == 5  # the config's grpo: wins
    assert args.model_init_kwargs == {"attn_implementation": "sdpa", "dtype": "bfloat16"}


def test_lora_trains_only_the_adapter(lora_run) -> None:
    trainer, before = lora_run["trainer"], lora_run["before"]
    assert trainer.state.global_step == 3 and trainer.args.gradient_checkpointing
    params = dict(trainer.model.named_parameters())
    trainable = [n for n, p in params.items() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert not any("visual" in n for n in trainable)  # freeze_vision: no adapter in the vision tower
    base = [n for n in params if "lora_" not in n]
    assert any("visual" in n for n in base) and any("language_model" in n for n in base)
    assert all(torch.equal(params[n].detach(), before[n]) for n in base)  # the base weights, vision tower included, unchanged
    changed = [n for n in trainable if not torch.equal(params[n].detach(), before[n])]
    assert any("lora_A" in n for n in changed) and any("lora_B" in n for n in changed)
    assert next(p for n, p in params.items() if n in base).dtype == torch.float32  # auto on CPU


def test_save_total_limit_keeps_two_checkpoints_with_the_adapter(lora_run) -> None:
    out = lora_run["out"]
    kept = sorted(p.name for p in out.glob("checkpoint-*"))
    assert kept == ["checkpoint-2", "checkpoint-3"]  # saved at steps 1, 2, 3; the oldest was deleted
    for folder in [out / k for k in kept] + [out / "final"]:
        assert (folder / "adapter_model.safetensors").is_file() and (folder / "adapter_config.json").is_file(), folder
        assert not (folder / "model.safetensors").exists()  # the adapter only
        assert has_model(folder)


def test_a_lora_run_resumes_from_its_checkpoint(lora_run) -> None:
    out, trained = lora_run["out"], lora_run["trainer"]
    trainer, _, _, resume = build(_lora_cfg(out, 4))
    assert resume == str(out / "checkpoint-3") == last_checkpoint(out)
    done = {n: p.detach().clone() for n, p in trained.model.named_parameters() if "lora_" in n}
    params = dict(trainer.model.named_parameters())
    assert not all(torch.equal(params[n].detach(), v) for n, v in done.items())  # a fresh adapter before loading
    trainer._load_from_checkpoint(resume)
    assert all(torch.equal(params[n].detach(), v) for n, v in done.items())  # every adapter tensor comes back
    trainer.train(resume_from_checkpoint=resume)
    assert trainer.state.global_step == 4
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-3", "checkpoint-4"]
    # the same output_dir without peft: (or with another adapter shape) is another run
    for other in ({"peft": None}, {"peft": {"r": 8}}):
        with pytest.raises(SpatialEvoError, match="another run.*peft"):
            check_resume(load_config(CONFIG, output_dir=str(out), max_steps=5, round=dict(ROUND), **other), resume)


def test_vision_adapters_only_when_the_vision_tower_is_not_frozen(lora_run) -> None:
    from peft import get_peft_model
    from transformers import AutoModelForImageTextToText

    path = str(lora_run["out"] / "tiny-model")
    for freeze in (True, False):
        cfg = load_config(CONFIG, output_dir="x", peft={**LORA, "freeze_vision": freeze})
        model = get_peft_model(AutoModelForImageTextToText.from_pretrained(path), lora_config(cfg))
        adapted = {n.split(".lora_")[0] for n, p in model.named_parameters() if "lora_A" in n}
        vision = sorted(n for n in adapted if ".visual." in n)
        assert len(adapted - set(vision)) == 2 * 7  # 2 layers x q/k/v/o + gate/up/down
        if freeze:
            assert not vision
        else:  # 2 blocks x qkv, attn.proj, gate/up/down; not the patch embedding nor the merger
            assert len(vision) == 2 * 5 and not any("patch_embed" in n or "merger" in n for n in vision)


def test_model_dtype_loads_the_tiny_model_in_bfloat16(tmp_path) -> None:
    cfg = load_config(CONFIG, output_dir=str(tmp_path / "bf16"), max_steps=1, model_dtype="bfloat16", peft=dict(LORA))
    trainer, _, _, _ = build(cfg)
    dtypes = {("lora_" in n, p.dtype) for n, p in trainer.model.named_parameters()}
    assert (False, torch.bfloat16) in dtypes and (False, torch.float32) not in dtypes  # the base weights
    assert {d for lora, d in dtypes if lora} == {torch.float32}  # peft keeps the adapters in float32


def test_images_keep_their_aspect_ratio_on_the_way_to_the_model(lora_run) -> None:
    """The bundled frames are 640 x 480 (4:3): the rows hold them at the budget's 4:3-nearest size and
    the processor hands the model the same shape (image_grid_thw: 14-pixel patches), not a square."""
    from spatialevo.selfplay.images import fit_size

    h, w = fit_size(480, 640, max_pixels=ROUND["max_pixels"])
    assert (h, w) == (56, 84)
    assert lora_run["sizes"] and set(lora_run["sizes"]) == {(w, h)}  # PIL size: (width, height)
    assert lora_run["grid"] and {tuple(g) for g in lora_run["grid"]} == {(1, h // 14, w // 14)}


def test_gpu_budget_keeps_the_aspect_ratio_through_the_qwen_processor() -> None:
    """At the GPU configs' budget (448 x 448 pixels) a 4:3 frame is 364 x 504 pixels in the rows, and
    Qwen2.5-VL's processor (its released budget, 3,136 to 12,845,056 pixels) keeps that shape."""
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from spatialevo.dge import Question
    from spatialevo.selfplay import Round, RoundConfig
    from spatialevo.train.solver import pil_images

    cfg = load_config(CONFIG.parent / "1gpu-3b.yaml")
    rnd = Round("bundled", RoundConfig.from_dict({**cfg.round, "clip_frames": 2}))
    scene = rnd.names[0]
    frame = rnd.scene(scene).frames[0]
    assert (frame.height, frame.width) == (480, 640)
    images = pil_images(rnd.solver_turn(scene, Question("room_size", ()), kind="given").images)
    assert {img.size for img in images} == {(504, 364)}
    proc = Qwen2VLImageProcessorPil(min_pixels=3136, max_pixels=12845056, patch_size=14, temporal_patch_size=2, merge_size=2)
    grid = proc(images=images, return_tensors="pt")["image_grid_thw"]
    assert grid.tolist() == [[1, 364 // 14, 504 // 14]] * len(images)
    assert abs((504 / 364) / (640 / 480) - 1) < 0.05  # within 5 % of 4:3


def test_eval_reads_a_lora_runs_final_adapter(lora_run, tmp_path) -> None:
    """``spatialevo eval --model <run>/final`` of a LoRA run: the adapter folder loads with its base."""
    import json

    from spatialevo.cli.main import main

    final = lora_run["out"] / "final"
    assert (final / "adapter_config.json").is_file() and not (final / "config.json").is_file()
    out = tmp_path / "scores.json"
    args = ["eval", "--model", str(final), "--tasks", "object_size", "--per-task", "1", "--clip-frames", "4", "--max-pixels", "3136",
            "--max-new-tokens", "4", "--quiet", "--json", str(out)]
    assert main(args) == 0
    assert json.loads(out.read_text())["tasks"]["object_size"]["n"] == 4


def test_pure_bf16_weights_lose_small_adamw_updates() -> None:
    """Why ``model_dtype: auto`` keeps full fine-tuning in float32: with a learning rate of 1e-6,
    AdamW's steps on bf16 weights of a typical scale (std 0.02) round away for most weights."""
    gen = torch.Generator().manual_seed(0)
    w0 = torch.randn(100_000, generator=gen) * 0.02
    changed = {}
    for dtype in (torch.bfloat16, torch.float32):
        w = torch.nn.Parameter(w0.to(dtype).clone())
        opt = torch.optim.AdamW([w], lr=1e-6, weight_decay=0.0)
        for _ in range(10):
            w.grad = torch.randn(w.shape, generator=gen).to(dtype)
            opt.step()
        changed[dtype] = float((w.detach() != w0.to(dtype)).float().mean())
    assert changed[torch.float32] > 0.99
    assert changed[torch.bfloat16] < 0.2, changed
