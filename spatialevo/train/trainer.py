"""The TRL trainer and callback of ``spatialevo evolve`` (imports torch, transformers and trl).

:class:`EvolveTrainer` is TRL's ``GRPOTrainer`` with four additions: Qwen2.5-VL weights restored
on resume, the LR schedule continued on a longer rerun, solver rows built from the self-play
round when the trainer generates (:meth:`spatialevo.train.stream.SelfPlayStream.resolve`: the
questioner's questions of the last step reach the solver in this one), and the optional auxiliary
pose loss. :class:`StateCallback` ends every step (the rewards' results, gathered across ranks, go
to the stream) and saves / restores the stream and curriculum state with every checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from trl import GRPOTrainer

from spatialevo.errors import SpatialEvoError
from spatialevo.train.checkpoints import POSE_HEAD_FILE, STATE_FILE, continue_lr_schedule, read_json, run_state
from spatialevo.train.rewards import world_size


class EvolveTrainer(GRPOTrainer):
    """``GRPOTrainer`` that restores Qwen2.5-VL weights on resume.

    transformers' ``Trainer._load_from_checkpoint`` loads ``model.safetensors`` with
    ``strict=False``; the checkpoint holds the legacy Qwen2.5-VL key names, so nothing but the
    LM head would load and training would silently restart from the initial weights. Loading
    through ``from_pretrained`` applies the key conversion. A LoRA policy (``peft:``) restores its
    adapter (``adapter_model.safetensors``) instead, every adapter tensor checked present.
    """

    pose_head: Any = None  #: a VisionPoseHead when the auxiliary pose loss is on
    pose_cfg: dict = {}
    pose_scene: dict = {}  #: stream scene name → head scene index
    stream: Any = None  #: the SelfPlayStream whose solver rows are built at generation time

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):  # noqa: ANN001, ANN202
        if getattr(self, "is_fsdp_enabled", False):  # sharded FSDP checkpoints: transformers' own path
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        target = self.accelerator.unwrap_model(self.model if model is None else model)
        if hasattr(target, "peft_config"):  # a PeftModel: the checkpoint holds the adapter only
            return load_adapter(target, resume_from_checkpoint)
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
        if self.stream is not None:  # solver rows from the state now: last step's questions reach this step's solver
            inputs = self.stream.resolve(inputs)
        out = super()._generate_and_score_completions(inputs)
        if self.pose_head is not None:
            import torch

            poses = [json.loads(row["poses"]) for row in inputs]
            n, k = len(inputs), max((len(p) for p in poses), default=0)
            targets = torch.zeros(n, k, 4, 4)
            scenes = torch.full((n, k), -1, dtype=torch.long)
            for i, (row, rp) in enumerate(zip(inputs, poses)):
                for j, pose in enumerate(rp):
                    targets[i, j] = torch.tensor(pose).reshape(4, 4)
                    scenes[i, j] = self.pose_scene[str(row["scene"])]
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


def load_adapter(model: Any, checkpoint: str | Path) -> None:
    """Load a checkpoint's LoRA adapter into the active adapter of the ``PeftModel`` ``model``.

    Raises:
        SpatialEvoError: the checkpoint has no adapter (e.g. a full fine-tuning checkpoint), or its
            adapter tensors do not match the model's (another ``peft:`` setting).
    """
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    file = Path(checkpoint) / "adapter_model.safetensors"
    if not file.is_file():
        raise SpatialEvoError(f"checkpoint {checkpoint} has no adapter_model.safetensors but peft: is on "
                              "(a full fine-tuning checkpoint?); use the same settings, --no-resume, or another --output-dir")
    result = set_peft_model_state_dict(model, load_file(str(file)), adapter_name=model.active_adapter)
    missing = [k for k in result.missing_keys if "lora_" in k]
    if missing or result.unexpected_keys:
        bad = (missing or result.unexpected_keys)[0]
        raise SpatialEvoError(f"checkpoint {checkpoint}: its adapter does not fit the model ({len(missing)} adapter tensors missing, "
                              f"{len(result.unexpected_keys)} unexpected, e.g. {bad}); use the same peft: settings")


class StateCallback(TrainerCallback):
    """Applies each step's curriculum updates (:meth:`SelfPlayRewards.flush`), saves the stream +
    curriculum state (and the pose head) in each checkpoint, restores them on resume."""

    def __init__(self, stream: Any, rewards: Any, resume_from: str | None, pose_head: Any = None,
                 identity: dict[str, Any] | None = None):
        self.stream, self.rewards, self.resume_from, self.pose_head = stream, rewards, resume_from, pose_head
        self.identity = identity

    def on_step_end(self, args, state, control, **kwargs):  # noqa: ANN001, ANN201
        self.stream.advance(**self.rewards.flush())  # question buffer and curriculum updates, identical on every rank

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
