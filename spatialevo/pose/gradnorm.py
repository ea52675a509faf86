"""Per-scene backward pass with gradient normalisation on the shared parameters (OFVL-MS).

Each scene's loss is differentiated separately. For the *shared* parameters the per-scene
gradients ``g_k`` (one flat vector per scene over all shared tensors) are rescaled to a common
norm, the mean of the per-scene norms, before they are summed:

    g_shared = Σ_k g_k · (n̄ / ‖g_k‖),   n̄ = mean_k ‖g_k‖

so a scene with a large loss (or a steep one) cannot dominate the shared weights and every scene
moves them by the same amount. Without normalisation the sum is plain (the gradient of
``Σ_k L_k``). Scene-specific parameters receive their own scene's gradient unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass
class GradStats:
    """Per-scene gradient norms on the shared parameters, before and after normalisation."""

    before: list[float]
    after: list[float]


def per_scene_backward(
    losses: Sequence[torch.Tensor],
    shared: Sequence[torch.nn.Parameter],
    specific: Sequence[torch.nn.Parameter],
    *,
    normalize: bool = True,
    eps: float = 1e-12,
    retain_graph: bool = False,
) -> GradStats:
    """Write ``.grad`` of ``shared`` and ``specific`` from the per-scene ``losses`` (see module docstring).

    Each loss must come from its own forward pass unless ``retain_graph`` (losses that share part
    of their graph, e.g. a pooled batch, need it). Gradients are
    accumulated into existing ``.grad`` (call ``optimizer.zero_grad()`` first), so other terms
    (e.g. the sparse penalty) can be added with ``backward()`` before or after.
    """
    shared, specific = list(shared), list(specific)
    per_scene: list[list[torch.Tensor]] = []
    for loss in losses:
        grads = torch.autograd.grad(loss, shared + specific, allow_unused=True, retain_graph=retain_graph)
        gs = [torch.zeros_like(p) if g is None else g for p, g in zip(shared, grads[: len(shared)])]
        per_scene.append(gs)
        for p, g in zip(specific, grads[len(shared) :]):
            if g is not None:
                p.grad = g.clone() if p.grad is None else p.grad + g
    norms = [torch.sqrt(sum((g * g).sum() for g in gs)) if gs else torch.zeros(()) for gs in per_scene]
    if normalize and norms:
        target = torch.stack(norms).mean()
        scales = [target / n if n > eps else torch.zeros(()) for n in norms]
    else:
        scales = [torch.ones(()) for _ in norms]
    for i, p in enumerate(shared):
        total = sum(s * gs[i] for s, gs in zip(scales, per_scene))
        p.grad = total.clone() if p.grad is None else p.grad + total
    return GradStats([float(n) for n in norms], [float(n * s) for n, s in zip(norms, scales)])
