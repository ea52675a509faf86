"""Training and evaluation of the multi-scene pose regressors (``spatialevo pose train / eval``).

Each step draws one mini-batch per scene (seeded), computes each scene's loss in its own forward
pass, and writes gradients with :func:`~spatialevo.pose.gradnorm.per_scene_backward` (gradient
normalisation on the shared parameters, optional) plus the sparse score penalty. ``only_scene``
trains one scene's own parameters with everything else frozen: that is how a new scene is added
to a trained model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from spatialevo.errors import SpatialEvoError
from spatialevo.pose.data import PoseData
from spatialevo.pose.gradnorm import per_scene_backward
from spatialevo.pose.metrics import PoseMetrics, summarize
from spatialevo.pose.model import PoseNet, PoseNetConfig, pose_loss
from spatialevo.pose.sharing import scene_layers, sparsity_penalty


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings.

    Attributes:
        steps: optimiser steps (each sees one batch of every trained scene).
        batch: frames per scene per step.
        lr: Adam learning rate (cosine decay to 5 % over the run).
        grad_norm: gradient normalisation on the shared parameters.
        penalty: weight of the sparse score penalty (adaptive mode; 4.0 chose the sharing of the
            reproduction in docs/pose.md, 1.0 keeps more layers scene-specific).
        score_lr: Adam learning rate of the sharing scores (Adam normalises step sizes, so this
            sets how fast a gate can flip; the penalty weight sets which way it goes).
        search_frac: share of the steps during which the scores learn (the sharing policy is
            searched); afterwards the gates are fixed and the weights are fine-tuned under them,
            so a gate that closes late cannot leave the model no time to adapt.
        beta: weight of the rotation loss.
        seed: seeds initialisation and batch sampling.
    """

    steps: int = 1500
    batch: int = 32
    lr: float = 2e-3
    grad_norm: bool = True
    penalty: float = 4.0
    score_lr: float = 0.02
    search_frac: float = 0.5
    beta: float = 1.0
    seed: int = 0


def new_model(mode: str, data: Sequence[PoseData], seed: int = 0, **kw: object) -> PoseNet:
    """A :class:`PoseNet` for the scenes of ``data`` (translation statistics from their poses)."""
    sizes = {d.size for d in data}
    if len(sizes) != 1:
        raise SpatialEvoError(f"all scenes must have one image size, got {sorted(sizes)}")
    names = [d.name for d in data]
    if len(set(names)) != len(names):
        raise SpatialEvoError(f"scene names must be distinct, got {names}")
    torch.manual_seed(seed)
    model = PoseNet(PoseNetConfig(mode=mode, size=sizes.pop(), scene_names=names, **kw))  # type: ignore[arg-type]
    for k, d in enumerate(data):
        model.set_translation_stats(k, d.poses)
    return model


def train(
    model: PoseNet, data: Sequence[PoseData], cfg: TrainConfig, *, only_scene: str | None = None, progress: bool = False,
    log_every: int = 0,
) -> list[dict[str, float]]:
    """Train ``model`` on ``data`` (one :class:`PoseData` per scene, names known to the model).

    Returns a log (every ``log_every`` steps, and the last): step, mean loss, penalty, seconds.

    Raises:
        SpatialEvoError: a scene unknown to the model, or an image size it does not take.
    """
    ks = [model.scene_index(d.name) for d in data]
    for d in data:
        if d.size != tuple(model.config.size):
            raise SpatialEvoError(f"scene {d.name}: images are {d.size}, the model takes {tuple(model.config.size)}")
    if only_scene is not None:
        k_only = model.scene_index(only_scene)
        pairs = [(k, d) for k, d in zip(ks, data) if k == k_only]
        if not pairs:
            raise SpatialEvoError(f"only_scene {only_scene!r} is not among the data's scenes")
        trainable = model.scene_parameters(k_only)
        shared: list[torch.nn.Parameter] = []
    else:
        pairs = list(zip(ks, data))
        shared = model.shared_parameters()
        trainable = shared + [p for k, _ in pairs for p in model.scene_parameters(k)]
    specific = [p for p in trainable if all(p is not s for s in shared)]
    for p in model.parameters():
        p.requires_grad_(any(p is q for q in trainable))
    scores = {id(s) for layer in scene_layers(model) for s in layer.scores}
    groups = [{"params": [p for p in trainable if id(p) not in scores], "lr": cfg.lr}]
    if any(id(p) in scores for p in trainable):
        groups.append({"params": [p for p in trainable if id(p) in scores], "lr": cfg.score_lr})
    opt = torch.optim.Adam(groups)
    search_steps = int(round(cfg.search_frac * cfg.steps))

    def cosine(s: int) -> float:
        return 0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(s / max(cfg.steps, 1), 1.0)))

    # the scores learn only during the search; afterwards their rate is 0 (the sharing policy is fixed)
    lambdas = [cosine] + [lambda s: cosine(s) if s < search_steps else 0.0] * (len(groups) - 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambdas)
    rng = np.random.default_rng(cfg.seed)
    tensors = [(torch.from_numpy(d.images), torch.from_numpy(d.poses).float()) for _, d in pairs]
    model.train()
    log: list[dict[str, float]] = []
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, unit="step", desc="pose train")
    t0 = time.perf_counter()
    for step in range(cfg.steps):
        searching = step < search_steps
        opt.zero_grad(set_to_none=True)
        losses = []
        for (k, _), (imgs, poses) in zip(pairs, tensors):
            idx = torch.from_numpy(rng.integers(len(imgs), size=min(cfg.batch, len(imgs))))
            t_true, R_true = model.normalise(poses[idx], k)
            t_pred, R_pred = model(imgs[idx], k)
            losses.append(pose_loss(t_pred, R_pred, t_true, R_true, cfg.beta))
        per_scene_backward(losses, shared, specific, normalize=cfg.grad_norm and len(losses) > 1)
        pen = sparsity_penalty(model)
        if cfg.penalty and searching and pen.requires_grad:
            (cfg.penalty * pen).backward()
        opt.step()
        sched.step()
        if bar is not None:
            bar.update(1)
        if (log_every and step % log_every == 0) or step == cfg.steps - 1:
            log.append({"step": step, "loss": sum(float(x.detach()) for x in losses) / len(losses), "penalty": float(pen.detach()), "seconds": time.perf_counter() - t0})
    if bar is not None:
        bar.close()
    for p in model.parameters():
        p.requires_grad_(True)
    model.eval()
    return log


def evaluate(model: PoseNet, data: Sequence[PoseData]) -> dict[str, PoseMetrics]:
    """Per scene name, and ``"all"`` over every frame: :class:`PoseMetrics` of the model's predictions."""
    preds, trues, out = [], [], {}
    for d in data:
        T = model.predict(d.images, d.name)
        out[d.name] = summarize(T, d.poses)
        preds.append(T)
        trues.append(d.poses)
    out["all"] = summarize(np.concatenate(preds), np.concatenate(trues))
    return out


def save(model: PoseNet, path: str | Path, extra: dict | None = None) -> Path:
    """Write a checkpoint (config, scene names, weights) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    cfg = model.config.to_dict()
    cfg["scene_names"] = list(model.scene_names)
    torch.save({"format": "spatialevo-pose-1", "config": cfg, "state_dict": model.state_dict(), "extra": extra or {}}, tmp)
    tmp.replace(path)
    return path


def load(path: str | Path) -> PoseNet:
    """Read a checkpoint written by :func:`save`.

    Raises:
        SpatialEvoError: missing or not a pose checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise SpatialEvoError(f"pose checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt file
        raise SpatialEvoError(f"{path}: not a readable pose checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != "spatialevo-pose-1":
        raise SpatialEvoError(f"{path}: not a spatialevo pose checkpoint")
    c = dict(ckpt["config"])
    c["size"], c["channels"] = tuple(c["size"]), tuple(c["channels"])
    model = PoseNet(PoseNetConfig(**c))
    model.load_state_dict(ckpt["state_dict"])
    model.eval()
    return model


def config_dict(cfg: TrainConfig) -> dict:
    return asdict(cfg)
