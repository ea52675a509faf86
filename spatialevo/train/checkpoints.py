"""Checkpoints of a ``spatialevo evolve`` run: what they keep besides the trainer's own state, how a
run is recognised on resume, and what a rerun of a finished run does.

A checkpoint ``checkpoint-N`` is complete when it holds :data:`STATE_FILE` (written last): the
stream (position, buffer, curriculum), the novelty memory and the run's identity (seed, scenes,
roles, model, LoRA shape). A resume with another identity is refused (:func:`check_resume`); a rerun of a run
whose newest checkpoint is at ``max_steps`` trains nothing (:func:`finished_run`); an extended run
continues the learning-rate schedule (:func:`continue_lr_schedule`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from spatialevo import safejson
from spatialevo.errors import SpatialEvoError
from spatialevo.train.config import EvolveConfig

STATE_FILE = "spatialevo_state.json"
POSE_HEAD_FILE = "pose_head.pt"
TRAINING_ONLY = {"optimizer.pt", "scheduler.pt", "scaler.pt", "trainer_state.json", STATE_FILE, POSE_HEAD_FILE, "latest", "zero_to_fp32.py"}
IDENTITY_KEYS = ("seed", "scenes", "roles", "model", "peft")  #: what a resumed run must share with its checkpoint


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object written by a run (checkpoint state, trainer state), depth-limited.

    Raises:
        SpatialEvoError: the file is not a JSON object (damaged: one line naming it).
    """
    try:
        data = safejson.loads(Path(path).read_bytes())
    except (ValueError, UnicodeDecodeError) as exc:
        raise SpatialEvoError(f"'{path}' is damaged ({exc}); remove that checkpoint or use --no-resume") from None
    if not isinstance(data, dict):
        raise SpatialEvoError(f"'{path}' is damaged (not a JSON object); remove that checkpoint or use --no-resume")
    return data


def run_state(stream: Any, rewards: Any, identity: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a checkpoint keeps besides the trainer's own state: the stream (position, buffer,
    curriculum), the questioner's novelty memory and the run's identity (:func:`run_identity`)."""
    state = {**stream.state_dict(), "novelty": rewards.questioner.state_dict()}
    return state if identity is None else {**state, "run": identity}


def continue_lr_schedule(scheduler: Any) -> list[float] | None:
    """Set the optimizer's learning rates to the schedule's value at its restored step.

    On resume the scheduler is built for this run's ``max_steps`` and then gets the checkpoint's
    step count, but the optimizer (and the scheduler's last LR) keep the LR the checkpoint ended
    with: for a run extended past its planned end that is the old schedule's last value (0 for a
    linear decay), used for the first resumed step. Recomputing it from the current schedule makes
    an extended run follow the schedule of a run planned for the new ``max_steps`` from the start;
    a resume with the same ``max_steps`` is unchanged. Only ``LambdaLR`` schedules (every
    ``lr_scheduler_type`` but ``reduce_lr_on_plateau`` and ``greedy``) are recomputed; others are
    left as loaded.
    """
    from torch.optim.lr_scheduler import LambdaLR

    sched = scheduler if isinstance(scheduler, LambdaLR) else getattr(scheduler, "scheduler", None)
    if not isinstance(sched, LambdaLR):
        return None
    lrs = [base * fn(sched.last_epoch) for base, fn in zip(sched.base_lrs, sched.lr_lambdas)]
    for group, lr in zip(sched.optimizer.param_groups, lrs):
        group["lr"] = lr
    sched._last_lr = lrs
    return lrs


def _identity_value(value: str) -> str:
    """A model / scenes value as recorded: an existing path resolved, a keyword (``tiny``, ``bundled``) as is."""
    path = Path(value).expanduser()
    return str(path.resolve()) if value not in ("tiny", "bundled") and path.exists() else value


def run_identity(cfg: EvolveConfig) -> dict[str, Any]:
    """What makes a run the same run on resume: seed, scenes, roles, model and the LoRA adapter's
    shape (``peft``: rank, alpha, targets, ``freeze_vision``; ``None`` for full fine-tuning; the
    dropout may change) — kept in each checkpoint."""
    lora = cfg.lora_settings()
    shape = None if lora is None else {k: v for k, v in lora.items() if k != "lora_dropout"}
    return {"seed": int(cfg.seed), "scenes": _identity_value(str(cfg.scenes)), "roles": list(cfg.roles),
            "model": _identity_value(str(cfg.model)), "peft": shape}


def check_resume(cfg: EvolveConfig, checkpoint: str) -> None:
    """Refuse to resume ``checkpoint`` with a config of another run (checkpoints written before the
    identity was recorded are accepted).

    Raises:
        SpatialEvoError: the seed, scenes, roles, model or LoRA shape differ (each difference named).
    """
    saved = read_json(Path(checkpoint) / STATE_FILE).get("run")
    if saved is None:
        return
    now = run_identity(cfg)
    diffs = [f"{k} {saved.get(k)!r} in the checkpoint, {now[k]!r} in the config" for k in IDENTITY_KEYS if saved.get(k) != now[k]]
    if diffs:
        raise SpatialEvoError(f"cannot resume {checkpoint}: another run ({'; '.join(diffs)}); "
                              "use the same settings, --no-resume, or another --output-dir")


def trainer_state(checkpoint: str | Path) -> dict[str, Any]:
    """The checkpoint's ``trainer_state.json`` (step, planned ``max_steps``, ``log_history``); ``{}`` if absent."""
    path = Path(checkpoint) / "trainer_state.json"
    return read_json(path) if path.is_file() else {}


def checkpoint_step(checkpoint: str | Path) -> int:
    """The optimiser step a checkpoint was saved at."""
    return int(trainer_state(checkpoint).get("global_step", Path(checkpoint).name.split("-")[-1]))


def last_checkpoint(output_dir: str | Path) -> str | None:
    """The newest complete ``checkpoint-N`` folder (with the stream state) in ``output_dir``."""
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    done = [p for p in folder.glob("checkpoint-*") if p.name.split("-")[-1].isdigit() and (p / STATE_FILE).is_file()]
    return str(max(done, key=lambda p: int(p.name.split("-")[-1]))) if done else None


def has_model(folder: Path) -> bool:
    """A complete saved model: its config and its weights, or a LoRA adapter (``peft:``) and its config."""
    weights = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")
    if (folder / "adapter_config.json").is_file():
        return any((folder / w).is_file() for w in ("adapter_model.safetensors", "adapter_model.bin"))
    return (folder / "config.json").is_file() and any((folder / w).is_file() for w in weights)


def write_final(checkpoint: str | Path, final: Path) -> None:
    """``final/`` from a checkpoint: its model, config and processor files, without the training state.

    Raises:
        SpatialEvoError: the checkpoint has no consolidated weights (e.g. DeepSpeed shards only).
    """
    src = Path(checkpoint)
    if not has_model(src):
        raise SpatialEvoError(f"cannot write {final}: {src} holds no consolidated model weights")
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for f in src.iterdir():
        if f.is_file() and f.name not in TRAINING_ONLY and not f.name.startswith("rng_state") and not f.name.endswith(".tmp"):
            shutil.copy2(f, tmp / f.name)
    shutil.rmtree(final, ignore_errors=True)  # an incomplete final/ (killed while saving)
    tmp.replace(final)


def finished_run(cfg: EvolveConfig, checkpoint: str, step: int) -> dict[str, Any]:
    """A rerun of a run whose newest checkpoint is at ``max_steps``: no training; ``final/`` is
    written from the checkpoint if missing.

    Raises:
        SpatialEvoError: the checkpoint is past ``max_steps`` (the run cannot be shortened).
    """
    if step > int(cfg.max_steps):
        raise SpatialEvoError(f"{checkpoint} is at step {step}, past max_steps {cfg.max_steps}: nothing to train "
                              "(use a larger --max-steps, --no-resume, or another --output-dir)")
    final = Path(cfg.output_dir) / "final"
    print(f"run complete: step {step} of max_steps {cfg.max_steps} ({checkpoint}); nothing to train")
    if not has_model(final) and int(os.environ.get("RANK", "0")) == 0:
        print(f"writing {final} from {checkpoint}")
        write_final(checkpoint, final)
    saved = read_json(Path(checkpoint) / STATE_FILE)
    return {"global_step": step, "resumed_from": checkpoint, "final": str(final), "complete": True,
            "scheduler": saved.get("scheduler"), "log_history": list(trainer_state(checkpoint).get("log_history", []))}
