"""``spatialevo evolve``: one shared-policy VLM trained with TRL's ``GRPOTrainer`` as questioner and solver.

The launcher wires spatialevo's parts into the stable TRL API and adds nothing to the engine:
one self-play round (:class:`spatialevo.selfplay.Round`) serves the row stream
(:mod:`spatialevo.train.stream`, the training dataset: a ``datasets`` ``IterableDataset``) and the
DGE rewards (:mod:`spatialevo.train.rewards`, the reward functions); the trainer and its callback
(:mod:`spatialevo.train.trainer`) end each step and save / restore the curriculum and stream state
with every checkpoint. Multi-GPU and multi-node runs use accelerate (DDP, DeepSpeed ZeRO-3, FSDP) through
``accelerate launch`` with the same config; vLLM generation is a ``grpo:`` option of TRL
(``use_vllm``, ``vllm_mode: colocate|server``), checked when the config is read
(:func:`spatialevo.train.config.check_vllm`); the informativeness solver groups then go through the
same vLLM engine as the rollouts (:func:`vllm_answers`). A config that needs a package that is not
installed (vLLM, DeepSpeed) names its extra before anything is loaded (:func:`check_packages`).

Memory options (:mod:`spatialevo.train.config`): the load dtype (``model_dtype``, through
``GRPOConfig.model_init_kwargs``), LoRA (``peft:``, through ``GRPOTrainer``'s ``peft_config``:
:func:`lora_config`), gradient checkpointing and ``save_total_limit`` (``grpo:`` keys; the latter
defaults to 2 here).
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any

from spatialevo.errors import SpatialEvoError
from spatialevo.train.checkpoints import (
    check_resume,
    checkpoint_step,
    finished_run,
    last_checkpoint,
    run_identity,
    run_state,
    trainer_state,
)
from spatialevo.train.config import EvolveConfig

log = logging.getLogger(__name__)


def read_questions(path: str | Path, source: Any) -> list[tuple[str, str]]:
    """``(scene name, question JSON)`` of each record of a ``spatialevo generate`` jsonl
    (:func:`spatialevo.train.evaluate.read_records`, scenes matched by
    :func:`~spatialevo.train.evaluate.record_scenes`).

    Raises:
        SpatialEvoError: a missing file, a bad line, or a record whose scene is not in ``source``.
    """
    from spatialevo.train.evaluate import read_records, record_scenes

    return [(name, json.dumps(rec["question"], sort_keys=True)) for name, rec in record_scenes(source, read_records(path))]


def model_path(cfg: EvolveConfig) -> str:
    """The checkpoint to train: ``cfg.model``, or the tiny model built into ``<output_dir>/tiny-model``."""
    local = cfg.check_model()
    if local is not None:
        return str(local)
    path = Path(cfg.output_dir) / "tiny-model"
    if not (path / "config.json").is_file():
        from spatialevo.train.tiny import make_tiny_qwen25vl

        make_tiny_qwen25vl(path, seed=cfg.seed)
    return str(path)


def _importable(name: str) -> bool:
    """``name`` can be imported here (found on the path; not imported)."""
    import importlib.util

    return importlib.util.find_spec(name) is not None


def check_packages(cfg: EvolveConfig) -> None:
    """Refuse a config that needs a package that is not installed, before anything is loaded:
    ``grpo.use_vllm`` needs vLLM (TRL's training processes import it in server mode too), and
    ``grpo.deepspeed`` or a DeepSpeed launch (``ACCELERATE_USE_DEEPSPEED=true``, which accelerate
    sets) needs DeepSpeed. (``accelerate launch`` with a DeepSpeed accelerate config checks for
    DeepSpeed itself, before this code runs.) The vLLM options are checked again too
    (:func:`~spatialevo.train.config.check_vllm`): callers may change ``cfg.grpo`` after loading.

    Raises:
        SpatialEvoError: one line naming the extra to install.
    """
    from spatialevo.train.config import check_vllm

    check_vllm(cfg.grpo, cfg.model)
    if cfg.grpo.get("use_vllm") and not _importable("vllm"):
        raise SpatialEvoError("grpo.use_vllm needs vLLM: pip install 'spatialevo[vllm]'")
    launched = deepspeed_launch()
    if (cfg.grpo.get("deepspeed") or launched) and not _importable("deepspeed"):
        what = "grpo.deepspeed" if cfg.grpo.get("deepspeed") else "a DeepSpeed launch (ACCELERATE_USE_DEEPSPEED=true)"
        raise SpatialEvoError(f"{what} needs DeepSpeed: pip install 'spatialevo[deepspeed]'")


def deepspeed_launch() -> bool:
    """Whether this process was started by ``accelerate launch`` with a DeepSpeed config."""
    return os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true"


def build(cfg: EvolveConfig) -> tuple[Any, Any, Any, str | None]:
    """(trainer, stream, rewards, checkpoint to resume from) for a config.

    Raises:
        SpatialEvoError: a missing package (:func:`check_packages`) or a bad option, before any model is built or loaded.
    """
    check_packages(cfg)
    import datasets
    import torch
    from accelerate import PartialState

    from spatialevo.dge import TASK_NAMES
    from spatialevo.selfplay import Round
    from spatialevo.selfplay.curriculum import make_scheduler
    from spatialevo.train.processor import load_processor
    from spatialevo.train.rewards import SelfPlayRewards
    from spatialevo.train.stream import SelfPlayStream

    if cfg.threads:
        torch.set_num_threads(int(cfg.threads))
    args = grpo_args(cfg)  # option errors first: before the model is built or loaded
    resume = last_checkpoint(cfg.output_dir) if cfg.resume else None
    if resume:
        check_resume(cfg, resume)
    with PartialState().main_process_first():  # one process builds the tiny model, the others wait
        path = model_path(cfg)
    processor = load_processor(path)
    sched_kw = dict(cfg.scheduler)
    scheduler = make_scheduler(sched_kw.pop("kind", "adaptive"), TASK_NAMES, **sched_kw)
    rnd = Round(cfg.scenes, cfg.round_config())
    questions = read_questions(cfg.questions, rnd.source) if cfg.questions else None
    stream = SelfPlayStream(rnd, scheduler, seed=cfg.seed, roles=cfg.roles, questions=questions)
    rewards = SelfPlayRewards(rnd, informativeness_weight=float(cfg.informativeness.get("weight", 0.3)), scheduler=scheduler)
    funcs, weights = rewards.functions(split=cfg.advantage == "gdpo")
    args.reward_weights = weights
    ds = datasets.IterableDataset.from_generator(stream.__iter__)
    from spatialevo.train.trainer import EvolveTrainer, StateCallback

    head = _pose_head(cfg, path, stream) if cfg.pose_aux is not None else None
    EvolveTrainer.stream = stream
    if head is not None:
        EvolveTrainer.pose_head, EvolveTrainer.pose_cfg = head, dict(cfg.pose_aux)
        EvolveTrainer.pose_scene = {s: k for k, s in enumerate(stream.usable)}
    callback = StateCallback(stream, rewards, resume, head, run_identity(cfg))
    trainer = EvolveTrainer(model=path, reward_funcs=funcs, args=args, train_dataset=ds, processing_class=processor, callbacks=[callback],
                            peft_config=lora_config(cfg))
    if head is not None:
        if getattr(trainer, "is_deepspeed_enabled", False):
            raise SpatialEvoError("pose_aux does not work with DeepSpeed yet (use DDP or a single process, or remove pose_aux)")
        head.to(trainer.accelerator.device)
    rewards.solve = _solver_group(trainer, processor, stream, int(cfg.informativeness.get("generations", 4)),
                                  int(cfg.informativeness.get("max_new_tokens", 64)))
    return trainer, stream, rewards, resume


def load_dtype(cfg: EvolveConfig) -> str:
    """The dtype the policy is loaded in: ``cfg.model_dtype``; ``auto``: ``bfloat16`` with CUDA when
    the bf16 weights are not the ones AdamW updates (LoRA: the base is frozen and the adapters are
    float32; DeepSpeed, as ``grpo.deepspeed`` or an ``accelerate launch`` with a DeepSpeed config:
    it keeps float32 master weights), else ``float32`` (full fine-tuning on one
    GPU then runs bf16 autocast over float32 weights: pure bf16 weights lose AdamW updates below
    their precision; at a learning rate of 1e-6, 98 % of the weights do not move at all,
    ``tests/test_train_lora.py``)."""
    import torch

    if cfg.model_dtype != "auto":
        if cfg.model_dtype == "bfloat16" and cfg.lora_settings() is None and not (cfg.grpo.get("deepspeed") or deepspeed_launch()):
            log.warning("model_dtype bfloat16 with full fine-tuning and no DeepSpeed: AdamW updates smaller than bf16's precision "
                        "are lost (at small learning rates most of them); model_dtype auto trains float32 weights under bf16 autocast")
        return cfg.model_dtype
    if not torch.cuda.is_available():
        return "float32"
    return "bfloat16" if cfg.lora_settings() is not None or cfg.grpo.get("deepspeed") or deepspeed_launch() else "float32"


#: module names that put LoRA adapters on Qwen2.5-VL's vision blocks' attention (``peft.freeze_vision: false``)
VISION_TARGETS = ("qkv", "attn.proj")
#: every module of the vision tower (``model.visual.*``), kept adapter-free with ``peft.freeze_vision: true``
VISION_MODULES = r"(.*\.)?visual(\..*)?"


def lora_config(cfg: EvolveConfig) -> Any:
    """The ``peft.LoraConfig`` of the ``peft:`` section (``None``: full fine-tuning).

    The adapters go on every module named in ``target_modules`` (a name matches a module whose
    dotted path ends with it); with ``freeze_vision`` none goes into the vision tower (its weights
    stay frozen, as every base weight of a LoRA run), else the vision blocks' attention
    (:data:`VISION_TARGETS`) gets adapters too. Adapters start as a no-op (``B = 0``).
    """
    lora = cfg.lora_settings()
    if lora is None:
        return None
    from peft import LoraConfig

    targets = list(lora["target_modules"])
    if not lora["freeze_vision"]:
        targets += [t for t in VISION_TARGETS if t not in targets]
    return LoraConfig(r=int(lora["r"]), lora_alpha=float(lora["lora_alpha"]), lora_dropout=float(lora["lora_dropout"]),
                      target_modules=targets, exclude_modules=VISION_MODULES if lora["freeze_vision"] else None,
                      task_type="CAUSAL_LM")


def grpo_args(cfg: EvolveConfig) -> Any:
    """The ``trl.GRPOConfig`` of a run: spatialevo's defaults, then ``cfg.grpo``. The reward weights
    are set by :func:`build` once the reward functions exist.

    Raises:
        SpatialEvoError: an option ``GRPOConfig`` rejects (one line, naming the key when it can).
    """
    import importlib.util

    import torch
    from trl import GRPOConfig

    from spatialevo.train.config import check_grpo

    check_grpo(cfg.grpo)  # again: callers may have changed cfg.grpo after loading
    report = ["tensorboard"] + (["wandb"] if importlib.util.find_spec("wandb") is not None else [])  # W&B when installed
    cuda, dtype = torch.cuda.is_available(), load_dtype(cfg)
    grpo = {"use_cpu": not cuda, "bf16": cuda and dtype != "float16", "fp16": cuda and dtype == "float16", "report_to": report,
            "logging_steps": 1, "save_strategy": "steps", "save_steps": 50, "save_total_limit": 2, "shuffle_dataset": False,
            "ignore_data_skip": True, "remove_unused_columns": False, **cfg.grpo}
    grpo["model_init_kwargs"] = {**(grpo.get("model_init_kwargs") or {}), "dtype": dtype}
    agg = "normalize_then_sum" if cfg.advantage == "gdpo" else "sum_then_normalize"
    try:
        return GRPOConfig(output_dir=cfg.output_dir, max_steps=int(cfg.max_steps), seed=int(cfg.seed),
                          multi_objective_aggregation=agg, **grpo)
    except (TypeError, ValueError) as exc:
        msg = " ".join(str(exc).split())
        named = [k for k in cfg.grpo if re.search(rf"\b{re.escape(str(k))}\b", msg)]
        where = f"grpo ({', '.join(named)})" if named else "grpo"
        raise SpatialEvoError(f"{where}: rejected by trl.GRPOConfig: {msg}") from None


def _solver_group(trainer: Any, processor: Any, stream: Any, generations: int, max_new_tokens: int) -> Any:
    """``solve(items)``: ``generations`` sampled solver answers of the current policy per item
    ``(scene, question, frames)`` — the solver turn of the round, shown the questioner's frames;
    ``None`` items are pads (answered, discarded) so every rank generates the same batch shape.
    With ``grpo.use_vllm`` the answers come from the rollouts' vLLM engine (:func:`vllm_answers`),
    else from the policy's ``generate`` (:func:`spatialevo.train.solver.answer`)."""
    from trl.models import unwrap_model_for_generation

    from spatialevo.dge import Question
    from spatialevo.train.solver import answer, pil_images

    def solve(items: list) -> list[list[str]]:
        prompts, images = [], []
        for it in items:
            if it is None:  # a pad: any real turn of the same kind
                scene = stream.usable[0]
                turn = stream.round.solver_turn(scene, Question("room_size", ()), kind="given")
            else:
                scene, q, frames = it
                turn = stream.round.solver_turn(scene, q, frames=frames, kind="asked")
            prompts.append(turn.prompt)
            images.append(pil_images(turn.images))
        if getattr(trainer.args, "use_vllm", False):
            return vllm_answers(trainer, processor, prompts, images, n=generations, max_new_tokens=max_new_tokens)
        zero3 = getattr(trainer, "is_deepspeed_enabled", False) and trainer.accelerator.state.deepspeed_plugin.zero_stage == 3
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as model:
            return answer(model, processor, prompts, images, n=generations, max_new_tokens=max_new_tokens, do_sample=True, synced_gpus=zero3)

    return solve


def prompt_ids(processor: Any, prompt: str, images: list[Any]) -> list[int]:
    """The token ids of one solver turn as the policy reads it: the user message (its images, then
    the text) through the processor's chat template with the generation prompt, each image's
    ``<|image_pad|>`` run expanded to its grid (what TRL's rollouts hand vLLM; the plain path's
    :func:`spatialevo.train.solver.answer` builds the same text)."""
    content = [*({"type": "image"} for _ in images), {"type": "text", "text": prompt}]
    text = processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True)
    enc = processor(text=[text], images=[list(images)] if images else None)
    return [int(t) for t in enc["input_ids"][0]]


def vllm_answers(trainer: Any, processor: Any, prompts: list[str], images: list[list[Any]], *, n: int, max_new_tokens: int) -> list[list[str]]:
    """``n`` sampled answers per solver prompt from the trainer's vLLM engine
    (``trainer.vllm_generation``, a ``trl.generation.vllm_generation.VLLMGeneration``), called the way
    TRL's rollouts call it: each prompt's ids and images repeated ``n`` times in a row with
    ``num_generations=n`` (colocate mode generates one completion per entry; server mode keeps one
    entry in every ``n`` and asks the server for ``n``), the engine's weights synced first when the
    step changed, its ``max_completion_length`` set to ``max_new_tokens`` for the call (restored
    after). A collective in server mode and with tensor parallelism: every rank calls it with the
    same count (the rewards pad to it).

    Returns:
        ``len(prompts)`` lists of ``n`` decoded answers (special tokens dropped).
    """
    engine = getattr(trainer, "vllm_generation", None)
    if engine is None:
        raise SpatialEvoError("grpo.use_vllm: the trainer has no vLLM engine (trainer.vllm_generation, built by TRL >= 1.16): "
                              "pip install 'spatialevo[vllm]'")
    ids = [prompt_ids(processor, p, imgs) for p, imgs in zip(prompts, images)]
    rep_ids = [x for x in ids for _ in range(n)]
    rep_images = [list(imgs) if imgs else None for imgs in images for _ in range(n)]
    step = trainer.state.global_step
    if getattr(trainer, "_last_loaded_step", step) != step:  # as TRL's rollouts: the policy's current weights
        engine.sync_weights()
        trainer._last_loaded_step = step
    saved = engine.max_completion_length
    engine.max_completion_length = int(max_new_tokens)
    try:
        _, completion_ids, _, _ = engine.generate(prompts=rep_ids, images=rep_images if any(rep_images) else None, num_generations=n)
    finally:
        engine.max_completion_length = saved
    if len(completion_ids) != len(rep_ids):
        raise SpatialEvoError(f"vLLM returned {len(completion_ids)} completions for {len(rep_ids)} prompts ({len(prompts)} × {n})")
    texts = processor.batch_decode([list(c) for c in completion_ids], skip_special_tokens=True)
    return [texts[i * n : (i + 1) * n] for i in range(len(prompts))]


def _pose_head(cfg: EvolveConfig, path: str, stream: Any) -> Any:
    """A :class:`~spatialevo.pose.VisionPoseHead` for the stream's scenes (translation statistics
    from all their frames) on the policy's vision feature width."""
    import numpy as np
    from transformers import AutoConfig

    from spatialevo.pose.vlm import VisionPoseHead

    mcfg = AutoConfig.from_pretrained(path)
    vision = getattr(mcfg, "vision_config", None)
    dim = getattr(vision, "out_hidden_size", None) or getattr(vision, "hidden_size", None)
    if dim is None:
        raise SpatialEvoError(f"pose_aux: cannot tell the vision feature width of {path} (no vision_config.out_hidden_size)")
    head = VisionPoseHead(int(dim), list(stream.usable), hidden=int(cfg.pose_aux.get("hidden", 256)))
    for k, name in enumerate(stream.usable):
        head.set_translation_stats(k, np.stack([f.T_wc for f in stream.round.scene(name).frames]))
    return head


def evolve(cfg: EvolveConfig) -> dict[str, Any]:
    """Run (or resume) a self-evolution run; returns the final step, the resumed checkpoint, the
    curriculum state and the logged metrics (``log_history``).

    A rerun of a finished run (newest checkpoint at ``max_steps``) trains nothing and loads no
    model (:func:`finished_run`). A rerun with a larger ``max_steps`` extends the run: the LR
    schedule continues as if the run had been planned for the new ``max_steps`` from the start.
    """
    checkpoint = last_checkpoint(cfg.output_dir) if cfg.resume else None
    if checkpoint:
        check_resume(cfg, checkpoint)
        step = checkpoint_step(checkpoint)
        if step >= int(cfg.max_steps):
            return finished_run(cfg, checkpoint, step)
        planned = trainer_state(checkpoint).get("max_steps")
        if planned is not None and int(planned) != int(cfg.max_steps):
            print(f"max_steps {planned} -> {cfg.max_steps}: the LR schedule continues as planned for {cfg.max_steps} steps")
    trainer, stream, _rewards, resume = build(cfg)
    if resume:
        log.info("resuming from %s", resume)
        print(f"resuming from {resume}")
    trainer.train(resume_from_checkpoint=resume)
    final = Path(cfg.output_dir) / "final"
    trainer.save_model(str(final))
    # each rank's stream state at the end: equal on every rank when the rows were the same
    rank = trainer.accelerator.process_index
    ranks = Path(cfg.output_dir) / "ranks"
    ranks.mkdir(parents=True, exist_ok=True)
    state = run_state(stream, _rewards, run_identity(cfg))
    if trainer.pose_head is not None:  # a checksum of the head: equal on every rank when DDP kept it in sync
        state["pose_head_sum"] = round(float(sum(p.detach().double().sum() for p in trainer.pose_head.parameters())), 9)
    (ranks / f"stream_state_rank{rank}.json").write_text(json.dumps(state, sort_keys=True))
    return {"global_step": trainer.state.global_step, "resumed_from": resume, "final": str(final),
            "scheduler": stream.scheduler.state_dict(), "log_history": list(trainer.state.log_history)}
