"""A multi-scene pose head on a vision-language model's visual features.

:class:`VisionPoseHead` takes the vision tower's patch features of each image (any number of
tokens of width ``feature_dim``), pools them with a learned attention query, and regresses the
camera pose through layer-adaptive shared layers (:class:`~spatialevo.pose.sharing.SceneLayer`)
and a per-scene output layer, like :class:`~spatialevo.pose.model.PoseNet`. Its loss is an
auxiliary objective for the policy (the evolve launcher adds it with a weight); gradients flow
into the vision tower unless the features are detached.

:func:`qwen_image_features` gets per-image features from a Qwen2.5-VL-family model (or any model
with ``get_image_features(pixel_values, image_grid_thw)``), split per image.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from spatialevo.errors import SpatialEvoError
from spatialevo.pose.gradnorm import per_scene_backward
from spatialevo.pose.model import pose_loss
from spatialevo.pose.rotation import sixd_to_matrix
from spatialevo.pose.sharing import MultiSceneMixin, SceneLayer, scene_layers, sparsity_penalty


class VisionPoseHead(MultiSceneMixin, nn.Module):
    """Pose head for VLM visual features.

    Args:
        feature_dim: width of the vision features (Qwen2.5-VL: ``config.vision_config.out_hidden_size``).
        scene_names: scenes known to the head (more with :meth:`add_scene`).
        hidden: width of the hidden layers.
        mode: ``"adaptive"`` (default), ``"shared"`` or ``"separate"`` for the hidden layers.
        depth: number of hidden layers.
    """

    def __init__(self, feature_dim: int, scene_names: Sequence[str], hidden: int = 256, mode: str = "adaptive", depth: int = 2):
        super().__init__()
        if feature_dim < 1 or hidden < 1 or depth < 1:
            raise ValueError("feature_dim, hidden and depth must be positive")
        self.scene_names = list(scene_names)
        n = len(self.scene_names)
        self.norm = nn.LayerNorm(feature_dim)
        self.query = nn.Parameter(torch.randn(feature_dim) / feature_dim**0.5)
        dims = [feature_dim] + [hidden] * depth
        self.layers = nn.ModuleList(SceneLayer("linear", a, b, n, mode) for a, b in zip(dims[:-1], dims[1:]))
        self.out = SceneLayer("linear", hidden, 9, n, "separate")
        self.register_buffer("t_mean", torch.zeros(n, 3))
        self.register_buffer("t_scale", torch.ones(n))

    def pool(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        """Attention-pool each image's (N_i, D) tokens → (B, D)."""
        out = []
        for f in features:
            if f.ndim != 2 or f.shape[1] != self.query.shape[0] or len(f) == 0:
                raise SpatialEvoError(f"image features must be (tokens, {self.query.shape[0]}), got {tuple(f.shape)}")
            x = self.norm(f.to(self.query.dtype))
            w = torch.softmax(x @ self.query / x.shape[1] ** 0.5, dim=0)
            out.append(w @ x)
        return torch.stack(out)

    def forward(self, features: Sequence[torch.Tensor], scenes: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Per image (features (N_i, D), scene index) → (B, 3) normalised translation, (B, 3, 3) rotation."""
        if len(features) != len(scenes):
            raise SpatialEvoError(f"{len(features)} images but {len(scenes)} scene indices")
        pooled = self.pool(features)
        t = pooled.new_zeros(len(scenes), 3)
        R = pooled.new_zeros(len(scenes), 3, 3)
        sc = torch.as_tensor(list(scenes))
        for k in sc.unique().tolist():
            idx = (sc == k).nonzero().flatten()
            x = pooled[idx]
            for layer in self.layers:
                x = F.gelu(layer(x, k))
            o = self.out(x, k)
            t = t.index_put((idx,), o[:, :3])
            R = R.index_put((idx,), sixd_to_matrix(o[:, 3:]))
        return t, R

    def scene_losses(self, features: Sequence[torch.Tensor], poses: torch.Tensor, scenes: Sequence[int], beta: float = 1.0) -> dict[int, torch.Tensor]:
        """Per scene index: the pose loss of its images (poses (B, 4, 4) camera-to-world, world metres)."""
        t_pred, R_pred = self(features, scenes)
        poses = poses.to(t_pred.dtype)
        sc = torch.as_tensor(list(scenes))
        out = {}
        for k in sc.unique().tolist():
            idx = (sc == k).nonzero().flatten().to(t_pred.device)
            t_true = (poses[idx, :3, 3] - self.t_mean[k]) / self.t_scale[k]
            out[k] = pose_loss(t_pred[idx], R_pred[idx], t_true, poses[idx, :3, :3], beta)
        return out

    def loss(self, features: Sequence[torch.Tensor], poses: torch.Tensor, scenes: Sequence[int], penalty: float = 4.0) -> torch.Tensor:
        """Mean per-scene pose loss plus the sparse score penalty (a differentiable auxiliary loss
        for the policy's optimiser; use :meth:`backward` for gradient normalisation)."""
        losses = self.scene_losses(features, poses, scenes)
        return torch.stack(list(losses.values())).mean() + penalty * sparsity_penalty(self).to(self.query.device)  # 0 without adaptive layers

    def backward(self, features: Sequence[torch.Tensor], poses: torch.Tensor, scenes: Sequence[int], penalty: float = 4.0, weight: float = 1.0) -> float:
        """Backward of ``weight`` × the pose loss with OFVL-MS gradient normalisation on the head's
        shared parameters (the pooling and the shared weights). Gradients also reach the features'
        graph (the vision tower) as the plain sum. Returns the mean loss."""
        losses = self.scene_losses(features, poses, scenes)
        ks = sorted(losses)
        shared = [self.query, *self.norm.parameters()] + [p for layer in self.layers for p in layer.shared_parameters()]
        specific = [p for k in ks for layer in scene_layers(self) for p in layer.scene_parameters(k)]
        upstream = [f for f in features if f.requires_grad]  # the vision tower's outputs, if trained
        total = torch.stack([losses[k] for k in ks]).mean() * weight
        grads = torch.autograd.grad(total, upstream, retain_graph=True, allow_unused=True) if upstream else ()
        per_scene_backward([losses[k] * weight / len(ks) for k in ks], shared, specific, normalize=len(ks) > 1, retain_graph=True)
        pen = sparsity_penalty(self)
        if penalty and pen.requires_grad:  # no adaptive layers (mode shared / separate): nothing to penalise
            (penalty * weight * pen).backward()
        pairs = [(f, g) for f, g in zip(upstream, grads) if g is not None]
        if pairs:
            torch.autograd.backward([f for f, _ in pairs], [g for _, g in pairs])
        return float(total.detach()) / weight if weight else 0.0


def qwen_image_features(model: nn.Module, pixel_values: torch.Tensor, image_grid_thw: torch.Tensor) -> list[torch.Tensor]:
    """Per-image vision features (N_i, D) of a Qwen2.5-VL-family model.

    Uses ``model.get_image_features`` (or ``model.model.get_image_features``) and splits the
    merged tokens per image with ``image_grid_thw`` and the spatial merge size.

    Raises:
        SpatialEvoError: the model has no ``get_image_features``.
    """
    fn = getattr(model, "get_image_features", None) or getattr(getattr(model, "model", None), "get_image_features", None)
    if fn is None:
        raise SpatialEvoError(f"{type(model).__name__} has no get_image_features(pixel_values, image_grid_thw)")
    out = fn(pixel_values, image_grid_thw)
    if hasattr(out, "pooler_output") and out.pooler_output is not None:
        out = out.pooler_output
    elif hasattr(out, "last_hidden_state"):
        out = out.last_hidden_state
    if isinstance(out, (list, tuple)):
        return list(out)
    merge = getattr(getattr(model.config, "vision_config", model.config), "spatial_merge_size", 2)
    sizes = (image_grid_thw.prod(-1) // merge**2).tolist()
    return list(torch.split(out, sizes))


def vision_tower(model: nn.Module) -> nn.Module | None:
    """The vision tower of a Qwen2-VL / Qwen2.5-VL-family model (``model.model.visual`` or ``model.visual``)."""
    inner = getattr(model, "model", None)
    return getattr(inner, "visual", None) or getattr(model, "visual", None)


class CaptureImageFeatures:
    """Context manager: records the merged image features every forward of the vision tower
    produces (a forward hook), so a pose head can use the features of the policy's own forward
    pass: the vision weights then run once per step, as DDP requires.

    ``split(image_grid_thw)`` returns the per-image (tokens, D) features of what was recorded.
    """

    def __init__(self, model: nn.Module):
        self.tower = vision_tower(model)
        self.outputs: list[torch.Tensor] = []
        self._handle = None

    def __enter__(self) -> CaptureImageFeatures:
        if self.tower is not None:
            self._handle = self.tower.register_forward_hook(self._hook)
        return self

    def _hook(self, module: nn.Module, args: object, output: object) -> None:
        out = getattr(output, "pooler_output", None)
        out = out if out is not None else getattr(output, "last_hidden_state", output)
        if isinstance(out, torch.Tensor):
            self.outputs.append(out)

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            self._handle.remove()

    def split(self, image_grid_thw: torch.Tensor) -> list[torch.Tensor] | None:
        """Per-image features, or ``None`` when the recorded tokens do not match the grid."""
        if not self.outputs or self.tower is None:
            return None
        merged = torch.cat(self.outputs)
        merge = getattr(self.tower, "spatial_merge_size", 2)
        sizes = (image_grid_thw.prod(-1) // merge**2).tolist()
        if sum(sizes) != len(merged):
            return None
        return list(torch.split(merged, sizes))
