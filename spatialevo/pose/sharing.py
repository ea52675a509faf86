"""Layer-adaptive sharing across scenes (OFVL-MS style), written once for every pose head.

A :class:`SceneLayer` is one convolution or linear layer used by several scenes. In ``adaptive``
mode it holds shared weights ``W``, per-scene residual weights ``ΔW_k`` (initialised to zero) and a
learnable score ``s_k`` per scene; scene ``k`` runs the layer with

    W_k = W + g_k · ΔW_k,   g_k = 1[σ(s_k) > 0.5]

where the hard gate ``g_k`` passes its gradient straight through to ``σ(s_k)``. A closed gate
(``g_k = 0``) means the layer is shared for that scene and ``ΔW_k`` is not stored at deployment;
an open gate makes it scene-specific. Choices the paper leaves open, settled here: the
scene-specific parameters *add to* the shared ones (so closing a gate keeps a working layer) and
the gate is the thresholded sigmoid with a straight-through gradient. The sparse penalty
(:func:`sparsity_penalty`) is the mean of ``σ(s_k)`` over layers and scenes, each layer weighted
by its size; it pushes layers toward sharing.

The same class also builds the two baselines of the reproduction: ``separate`` (scene-specific
weights only: one model per scene) and ``shared`` (shared weights only).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from spatialevo.errors import SpatialEvoError

MODES = ("separate", "shared", "adaptive")


class SceneLayer(nn.Module):
    """A conv2d (``kind="conv"``) or linear layer with per-scene parameters (see module docstring).

    Args:
        kind: ``"conv"`` or ``"linear"``.
        c_in, c_out: input / output channels (features).
        n_scenes: number of scenes at construction (more with :meth:`add_scene`).
        mode: ``"separate"``, ``"shared"`` or ``"adaptive"``.
        kernel, stride, padding: convolution geometry (ignored for linear layers).
        init_score: initial score logit (``σ(1.0) ≈ 0.73``: gates start open).
    """

    def __init__(
        self, kind: str, c_in: int, c_out: int, n_scenes: int, mode: str, *, kernel: int = 3, stride: int = 1,
        padding: int = 0, init_score: float = 1.0,
    ):
        super().__init__()
        if kind not in ("conv", "linear"):
            raise ValueError(f"kind must be 'conv' or 'linear', got {kind!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.kind, self.mode, self.stride, self.padding, self.init_score = kind, mode, stride, padding, init_score
        self.wshape = (c_out, c_in, kernel, kernel) if kind == "conv" else (c_out, c_in)
        self.fan_in = c_in * (kernel * kernel if kind == "conv" else 1)
        self.weight = nn.Parameter(self._init_weight()) if mode != "separate" else None
        self.bias = nn.Parameter(torch.zeros(c_out)) if mode != "separate" else None
        self.w_scene = nn.ParameterList()
        self.b_scene = nn.ParameterList()
        self.scores = nn.ParameterList()
        self._n_shared = 0
        for _ in range(n_scenes):
            self.add_scene()

    def _init_weight(self) -> torch.Tensor:
        w = torch.empty(self.wshape)
        nn.init.kaiming_uniform_(w, a=math.sqrt(5))  # PyTorch's default for Conv2d / Linear
        return w

    @property
    def n_scenes(self) -> int:
        return len(self.w_scene) if self.mode != "shared" else self._n_shared

    def add_scene(self) -> None:
        """Add one scene's parameters: a full fresh layer (separate), zero residuals and an open
        score (adaptive), nothing (shared)."""
        if self.mode == "shared":
            self._n_shared += 1
            return
        fresh = self.mode == "separate"
        ref = self.weight if self.weight is not None else (self.w_scene[0] if len(self.w_scene) else None)
        dev = ref.device if ref is not None else torch.device("cpu")  # new scenes live where the layer lives
        self.w_scene.append(nn.Parameter((self._init_weight() if fresh else torch.zeros(self.wshape)).to(dev)))
        self.b_scene.append(nn.Parameter(torch.zeros(self.wshape[0], device=dev)))
        if self.mode == "adaptive":
            self.scores.append(nn.Parameter(torch.tensor(float(self.init_score), device=dev)))

    def gate(self, k: int) -> torch.Tensor:
        """Scene ``k``'s gate: 1.0 (scene-specific) or 0.0 (shared), straight-through to ``σ(s_k)``."""
        p = torch.sigmoid(self.scores[k])
        return (p > 0.5).to(p.dtype) + p - p.detach()

    def is_specific(self, k: int) -> bool:
        """Whether scene ``k`` uses its own parameters in this layer."""
        return self.mode == "separate" or (self.mode == "adaptive" and bool(self.scores[k].detach() > 0))

    def weights(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mode == "separate":
            return self.w_scene[k], self.b_scene[k]
        if self.mode == "shared":
            return self.weight, self.bias
        g = self.gate(k)
        return self.weight + g * self.w_scene[k], self.bias + g * self.b_scene[k]

    def forward(self, x: torch.Tensor, k: int) -> torch.Tensor:
        if not 0 <= k < self.n_scenes:
            raise IndexError(f"scene index {k} out of range (layer has {self.n_scenes} scenes)")
        w, b = self.weights(k)
        if self.kind == "conv":
            return F.conv2d(x, w, b, stride=self.stride, padding=self.padding)
        return F.linear(x, w, b)

    # -- bookkeeping ----------------------------------------------------------------------------
    def shared_parameters(self) -> list[nn.Parameter]:
        return [p for p in (self.weight, self.bias) if p is not None]

    def scene_parameters(self, k: int) -> list[nn.Parameter]:
        """Parameters only scene ``k`` uses (its residual / own weights and its score)."""
        if self.mode == "shared":
            return []
        out = [self.w_scene[k], self.b_scene[k]]
        return out + ([self.scores[k]] if self.mode == "adaptive" else [])

    def deployed_size(self) -> int:
        """Parameters to store after training: shared weights, plus per scene its own weights where
        its gate is open (closed gates drop ``ΔW_k``), plus one score per scene (adaptive)."""
        size = sum(p.numel() for p in self.shared_parameters())
        layer = math.prod(self.wshape) + self.wshape[0]
        size += layer * sum(self.is_specific(k) for k in range(self.n_scenes))
        return size + (self.n_scenes if self.mode == "adaptive" else 0)


def scene_layers(model: nn.Module) -> list[SceneLayer]:
    return [m for m in model.modules() if isinstance(m, SceneLayer)]


def sparsity_penalty(model: nn.Module) -> torch.Tensor:
    """Weighted mean of ``σ(s)`` over all scores of the model's adaptive layers (0 when none).

    Each layer's scores are weighted by its size relative to the mean layer size, so the penalty
    measures the storage that open gates cost: closing the gate of a large layer saves more.
    """
    layers = [layer for layer in scene_layers(model) if len(layer.scores)]
    if not layers:
        return torch.zeros(())
    sizes = torch.tensor([float(math.prod(layer.wshape) + layer.wshape[0]) for layer in layers])
    weights = sizes / sizes.mean()
    terms = [w * torch.sigmoid(torch.stack(list(layer.scores))) for w, layer in zip(weights, layers)]
    return torch.cat(terms).mean()


def sharing_table(model: nn.Module) -> list[list[bool]]:
    """Per layer, per scene: ``True`` when the layer is scene-specific for that scene."""
    return [[layer.is_specific(k) for k in range(layer.n_scenes)] for layer in scene_layers(model)]


class MultiSceneMixin:
    """Scene bookkeeping shared by the pose models: names, per-scene translation statistics
    (buffers ``t_mean`` (S, 3) and ``t_scale`` (S,), metres), lookup and adding scenes.
    The class using it registers the buffers and sets ``scene_names`` in ``__init__``."""

    scene_names: list[str]
    unseen_hint: str = ""

    def scene_index(self, name: str) -> int:
        """Index of a scene name.

        Raises:
            SpatialEvoError: the scene was not seen at training time.
        """
        try:
            return self.scene_names.index(name)
        except ValueError:
            raise SpatialEvoError(f"scene {name!r} was not seen at training time (known: {self.scene_names}){self.unseen_hint}") from None

    def add_scene(self, name: str, poses: np.ndarray) -> int:
        """Add a scene (its per-scene parameters and translation statistics); returns its index."""
        if name in self.scene_names:
            raise SpatialEvoError(f"scene {name!r} is already in the model")
        for layer in scene_layers(self):  # type: ignore[arg-type]
            layer.add_scene()
        self.scene_names.append(name)
        dev = self.t_mean.device
        self.t_mean = torch.cat([self.t_mean, torch.zeros(1, 3, device=dev)])
        self.t_scale = torch.cat([self.t_scale, torch.ones(1, device=dev)])
        self.set_translation_stats(len(self.scene_names) - 1, poses)
        return len(self.scene_names) - 1

    def set_translation_stats(self, k: int, poses: np.ndarray) -> None:
        """Normalise scene ``k``'s translations by the mean and RMS spread of its camera centres
        (``poses`` (N, 4, 4) camera-to-world, world frame, metres)."""
        t = torch.as_tensor(np.asarray(poses)[:, :3, 3], dtype=torch.float32)
        self.t_mean[k] = t.mean(0).to(self.t_mean.device)
        self.t_scale[k] = ((t - t.mean(0)) ** 2).sum(1).mean().sqrt().clamp_min(1e-3).to(self.t_scale.device)
