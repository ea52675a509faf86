"""``spatialevo evolve``: one shared-policy VLM trained with TRL's ``GRPOTrainer`` as questioner and solver.

The launcher wires spatialevo's parts into the stable TRL API and adds nothing to the engine:
the row stream (:mod:`spatialevo.train.stream`) is the training dataset (a ``datasets``
``IterableDataset``), the DGE rewards (:mod:`spatialevo.train.rewards`) are the reward functions,
and :class:`StateCallback` saves and restores the curriculum and stream state with every
checkpoint. Multi-GPU and multi-node runs use accelerate (DDP, DeepSpeed ZeRO-3, FSDP) through
``accelerate launch`` with the same config; vLLM generation is a ``grpo:`` option of TRL.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from spatialevo import safejson
from spatialevo.errors import SpatialEvoError
from spatialevo.train.checkpoints import (
    POSE_HEAD_FILE,
    STATE_FILE,
    check_resume,
    checkpoint_step,
    continue_lr_schedule,
    finished_run,
    last_checkpoint,
    read_json,
    run_identity,
    run_state,
    trainer_state,
)
from spatialevo.train.config import EvolveConfig

log = logging.getLogger(__name__)
#: checkpoint files that are training state, not part of the model (left out of ``final/``)


def _trainer_classes():  # noqa: ANN202 - imported lazily (torch, transformers, trl)
    from transformers import TrainerCallback
    from trl import GRPOTrainer

    from spatialevo.train.rewards import world_size

    class EvolveTrainer(GRPOTrainer):
        """``GRPOTrainer`` that restores Qwen2.5-VL weights on resume.

        transformers' ``Trainer._load_from_checkpoint`` loads ``model.safetensors`` with
        ``strict=False``; the checkpoint holds the legacy Qwen2.5-VL key names, so nothing but the
        LM head would load and training would silently restart from the initial weights. Loading
        through ``from_pretrained`` applies the key conversion.
        """

        pose_head: Any = None  #: a VisionPoseHead when the auxiliary pose loss is on
        pose_cfg: dict = {}
        pose_scene: dict = {}  #: stream scene index → head scene index

        def _load_from_checkpoint(self, resume_from_checkpoint, model=None):  # noqa: ANN001, ANN202
            if getattr(self, "is_fsdp_enabled", False):  # sharded FSDP checkpoints: transformers' own path
                return super()._load_from_checkpoint(resume_from_checkpoint, model)
            target = self.accelerator.unwrap_model(self.model if model is None else model)
            loaded = type(target).from_pretrained(resume_from_checkpoint, dtype=target.dtype)
            target.load_state_dict(loaded.state_dict(), strict=True)
            del loaded

        def _load_optimizer_and_scheduler(self, checkpoint):  # noqa: ANN001, ANN202
            super()._load_optimizer_and_scheduler(checkpoint)
            if checkpoint is not None:
                continue_lr_schedule(self.lr_scheduler)

        # -- auxiliary pose loss (spatialevo.pose.VisionPoseHead on the vision features) --------
        # The head lives beside the policy (not inside the DDP-wrapped module, whose reducer rejects
        # parameters used outside its forward). It has its own optimizer group; the callback
        # broadcasts its initial weights from rank 0 and averages its gradients across ranks before
        # each optimizer step. DeepSpeed is refused in build() (its engine owns the optimizer).
        def create_optimizer(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
            opt = super().create_optimizer(*args, **kwargs)
            if self.pose_head is not None and not any(g.get("spatialevo_pose_head") for g in opt.param_groups):
                ids = {id(p) for p in self.pose_head.parameters()}
                for g in opt.param_groups:
                    g["params"] = [p for p in g["params"] if id(p) not in ids]
                opt.add_param_group({"params": list(self.pose_head.parameters()), "lr": float(self.pose_cfg.get("lr", 1e-4)),
                                     "weight_decay": 0.0, "spatialevo_pose_head": True})
            return opt

        def _generate_and_score_completions(self, inputs):  # noqa: ANN001, ANN202
            out = super()._generate_and_score_completions(inputs)
            if self.pose_head is not None:
                import torch

                n = len(inputs)
                targets = torch.zeros(n, 2, 4, 4)
                scenes = torch.full((n, 2), -1, dtype=torch.long)
                for i, row in enumerate(inputs):
                    for j, pose in enumerate(json.loads(row["poses"])[:2]):
                        targets[i, j] = torch.tensor(pose).reshape(4, 4)
                        scenes[i, j] = self.pose_scene[int(row["scene"])]
                device = out["prompt_ids"].device
                out["pose_targets"], out["pose_scenes"] = targets.to(device), scenes.to(device)
            return out

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # noqa: ANN001, ANN201
            if self.pose_head is None or inputs.get("pixel_values") is None or "pose_scenes" not in inputs:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            from spatialevo.pose.vlm import CaptureImageFeatures, qwen_image_features

            # the head reads the vision features of the policy's own forward pass (run once: DDP-safe)
            with CaptureImageFeatures(self.accelerator.unwrap_model(model)) as cap:
                loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            feats = cap.split(inputs["image_grid_thw"])
            if feats is None:  # no hookable vision tower: run it again (single-process only)
                feats = qwen_image_features(self.accelerator.unwrap_model(model), inputs["pixel_values"], inputs["image_grid_thw"])
            keep = inputs["pose_scenes"] >= 0  # row-major: the rows' images in order
            scenes = inputs["pose_scenes"][keep].tolist()
            if len(scenes) != len(feats):
                raise SpatialEvoError(f"pose head: {len(feats)} images but {len(scenes)} pose targets in the batch")
            aux = self.pose_head.loss(feats, inputs["pose_targets"][keep], scenes, penalty=float(self.pose_cfg.get("penalty", 4.0)))
            self._metrics["train"]["pose/aux_loss"].append(float(aux.detach()))
            if model.training:  # GRPO's own loss is already divided for gradient accumulation
                aux = aux / self.current_gradient_accumulation_steps
            return loss + float(self.pose_cfg.get("weight", 0.1)) * aux

    class StateCallback(TrainerCallback):
        """Applies each step's curriculum updates (:meth:`SelfPlayRewards.flush`), saves the stream +
        curriculum state (and the pose head) in each checkpoint, restores them on resume."""

        def __init__(self, stream: Any, rewards: Any, resume_from: str | None, pose_head: Any = None,
                     identity: dict[str, Any] | None = None):
            self.stream, self.rewards, self.resume_from, self.pose_head = stream, rewards, resume_from, pose_head
            self.identity = identity

        def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            self.rewards.flush()  # curriculum and question buffer updates, identical on every rank

        def on_pre_optimizer_step(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            if self.pose_head is not None and world_size() > 1:  # DDP: average the head's gradients
                import torch.distributed as dist

                for p in self.pose_head.parameters():
                    if p.grad is None:
                        p.grad = p.detach().new_zeros(p.shape)
                    dist.all_reduce(p.grad)
                    p.grad /= world_size()

        def on_train_begin(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            if self.pose_head is not None and world_size() > 1:  # the same initial head on every rank
                import torch.distributed as dist

                for p in self.pose_head.parameters():
                    dist.broadcast(p.data, src=0)
            if self.resume_from:
                path = Path(self.resume_from) / STATE_FILE
                if not path.is_file():
                    raise SpatialEvoError(f"checkpoint {self.resume_from} has no {STATE_FILE}; cannot restore the curriculum")
                saved = read_json(path)
                self.stream.load_state_dict(saved)
                if "novelty" in saved:
                    self.rewards.questioner.load_state_dict(saved["novelty"])
                if self.pose_head is not None:
                    import torch

                    head = Path(self.resume_from) / POSE_HEAD_FILE
                    if not head.is_file():
                        raise SpatialEvoError(f"checkpoint {self.resume_from} has no {POSE_HEAD_FILE} but pose_aux is on")
                    self.pose_head.load_state_dict(torch.load(head, map_location="cpu", weights_only=True))

        def on_save(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
            if state.is_world_process_zero:
                folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                folder.mkdir(parents=True, exist_ok=True)
                if self.pose_head is not None:
                    import torch

                    torch.save(self.pose_head.state_dict(), folder / (POSE_HEAD_FILE + ".tmp"))
                    (folder / (POSE_HEAD_FILE + ".tmp")).replace(folder / POSE_HEAD_FILE)
                tmp = folder / (STATE_FILE + ".tmp")  # written last: its presence marks a complete checkpoint
                tmp.write_text(json.dumps(run_state(self.stream, self.rewards, self.identity)))
                tmp.replace(folder / STATE_FILE)

    return EvolveTrainer, StateCallback


def read_questions(path: str | Path, source: Any) -> list[tuple[int, str]]:
    """``(scene index, question JSON)`` of each record of a ``spatialevo generate`` jsonl.

    Raises:
        SpatialEvoError: a missing file, a bad line, or a record whose scene is not in ``source``.
    """
    p = Path(path)
    if not p.is_file():
        raise SpatialEvoError(f"questions file not found: {p}")
    by_id = source.index_by_id()
    out = []
    for n, line in enumerate(p.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = safejson.loads(line)
            name = rec.get("scene", rec["scene_id"])  # the source's unique name (older records: the scene id)
            scene, question = by_id.get(name), rec["question"]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SpatialEvoError(f"{p}:{n}: not a generate record ({exc})") from None
        if scene is None:
            raise SpatialEvoError(f"{p}:{n}: scene {name!r} is not among the configured scenes")
        out.append((scene, json.dumps(question, sort_keys=True)))
    if not out:
        raise SpatialEvoError(f"{p}: no questions")
    return out


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


def build(cfg: EvolveConfig) -> tuple[Any, Any, Any, str | None]:
    """(trainer, stream, rewards, checkpoint to resume from) for a config."""
    import datasets
    import torch
    from accelerate import PartialState

    from spatialevo.curriculum import make_scheduler
    from spatialevo.dge import TASK_NAMES
    from spatialevo.sources import make_source
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
    source = make_source(cfg.scenes)
    questions = read_questions(cfg.questions, source) if cfg.questions else None
    stream = SelfPlayStream(source, scheduler, seed=cfg.seed, image_size=cfg.image_size, roles=cfg.roles, questions=questions)
    rewards = SelfPlayRewards(stream, informativeness_weight=float(cfg.informativeness.get("weight", 0.3)))
    funcs, weights = rewards.functions(split=cfg.advantage == "gdpo")
    args.reward_weights = weights
    ds = datasets.IterableDataset.from_generator(stream.__iter__)
    EvolveTrainer, StateCallback = _trainer_classes()
    head = _pose_head(cfg, path, stream) if cfg.pose_aux is not None else None
    if head is not None:
        EvolveTrainer.pose_head, EvolveTrainer.pose_cfg = head, dict(cfg.pose_aux)
        EvolveTrainer.pose_scene = {s: k for k, s in enumerate(stream.usable)}
    callback = StateCallback(stream, rewards, resume, head, run_identity(cfg))
    trainer = EvolveTrainer(model=path, reward_funcs=funcs, args=args, train_dataset=ds, processing_class=processor, callbacks=[callback])
    if head is not None:
        if getattr(trainer, "is_deepspeed_enabled", False):
            raise SpatialEvoError("pose_aux does not work with DeepSpeed yet (use DDP or a single process, or remove pose_aux)")
        head.to(trainer.accelerator.device)
    rewards.solve = _solver_group(trainer, processor, stream, int(cfg.informativeness.get("generations", 4)),
                                  int(cfg.informativeness.get("max_new_tokens", 64)))
    return trainer, stream, rewards, resume


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
    grpo = {"use_cpu": not torch.cuda.is_available(), "bf16": torch.cuda.is_available(), "report_to": report,
            "logging_steps": 1, "save_strategy": "steps", "save_steps": 50, "shuffle_dataset": False,
            "ignore_data_skip": True, "remove_unused_columns": False, **cfg.grpo}
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
    ``(scene, question)``; ``None`` items are pads (answered, discarded) so every rank generates
    the same batch shape."""
    from trl.models import unwrap_model_for_generation

    from spatialevo.dge import TemplateError, render
    from spatialevo.train.solver import answer

    def solve(items: list) -> list[list[str]]:
        texts, images = [], []
        for it in items:
            scene, q = it if it is not None else (stream.usable[0], None)
            frames = list(q.frames) if q is not None and q.frames else [stream.source.get(scene).frames[0].id]
            try:
                texts.append(render(q) if q is not None else "pad")
            except TemplateError:
                texts.append(q.to_json())
            images.append([stream.image(scene, f) for f in frames])
        zero3 = getattr(trainer, "is_deepspeed_enabled", False) and trainer.accelerator.state.deepspeed_plugin.zero_stage == 3
        with unwrap_model_for_generation(trainer.model_wrapped, trainer.accelerator) as model:
            return answer(model, processor, texts, images, n=generations, max_new_tokens=max_new_tokens, do_sample=True, synced_gpus=zero3)

    return solve


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
    names = [stream.source.names[i] for i in stream.usable]
    head = VisionPoseHead(int(dim), names, hidden=int(cfg.pose_aux.get("hidden", 256)))
    for k, i in enumerate(stream.usable):
        head.set_translation_stats(k, np.stack([f.T_wc for f in stream.source.get(i).frames]))
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
