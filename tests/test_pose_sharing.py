"""Layer-adaptive sharing, gradient normalisation and the sparse penalty."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spatialevo.pose.gradnorm import per_scene_backward
from spatialevo.pose.sharing import SceneLayer, sparsity_penalty


def _losses(layer: SceneLayer, n: int, scale: tuple[float, ...], seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = []
    for k in range(n):
        x = torch.randn(16, 4, generator=g)
        y = torch.randn(16, 3, generator=g) * (k + 1)
        out.append(scale[k] * ((layer(x, k) - y) ** 2).mean())
    return out


def test_gradient_normalisation_equalises_per_scene_norms() -> None:
    torch.manual_seed(0)
    layer = SceneLayer("linear", 4, 3, 3, "adaptive")
    shared, specific = layer.shared_parameters(), [p for k in range(3) for p in layer.scene_parameters(k)]
    stats = per_scene_backward(_losses(layer, 3, (100.0, 1.0, 0.01)), shared, specific)
    assert max(stats.before) / min(stats.before) > 1e3  # very unequal before
    assert np.allclose(stats.after, np.mean(stats.before), rtol=1e-6)  # equal after, at the mean norm
    # recompute each scene's normalised gradient by hand: they all have that norm and sum to .grad
    manual = torch.zeros_like(layer.weight)
    for loss in _losses(layer, 3, (100.0, 1.0, 0.01)):
        gw, gb = torch.autograd.grad(loss, shared)
        n = torch.sqrt((gw**2).sum() + (gb**2).sum())
        manual += gw * (np.mean(stats.before) / n)
    assert torch.allclose(layer.weight.grad, manual, rtol=1e-5, atol=1e-8)
    # the direction of the shared update ignores how each scene's loss is scaled
    d1 = layer.weight.grad.flatten().clone()
    layer.zero_grad()
    per_scene_backward(_losses(layer, 3, (1.0, 1.0, 1.0)), shared, specific)
    d2 = layer.weight.grad.flatten()
    assert float(torch.nn.functional.cosine_similarity(d1, d2, dim=0)) == pytest.approx(1.0, abs=1e-6)


def test_without_normalisation_the_sum_is_plain() -> None:
    torch.manual_seed(1)
    layer = SceneLayer("linear", 4, 3, 2, "adaptive")
    shared, specific = layer.shared_parameters(), [p for k in range(2) for p in layer.scene_parameters(k)]
    per_scene_backward(_losses(layer, 2, (5.0, 1.0)), shared, specific, normalize=False)
    got = [p.grad.clone() for p in shared + specific]
    layer.zero_grad()
    sum(_losses(layer, 2, (5.0, 1.0))).backward()
    for g, p in zip(got, shared + specific):
        assert torch.allclose(g, p.grad, atol=1e-7)


def _fit(conflict: bool, penalty: float, steps: int = 1000) -> SceneLayer:
    """Two scenes; targets agree (y = A x for both) or conflict (y = A x vs y = -A x)."""
    torch.manual_seed(0)
    layer = SceneLayer("linear", 4, 4, 2, "adaptive")
    A = torch.randn(4, 4)
    opt = torch.optim.Adam([{"params": layer.shared_parameters() + list(layer.w_scene) + list(layer.b_scene), "lr": 0.02},
                            {"params": list(layer.scores), "lr": 0.05}])
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        opt.zero_grad()
        losses = []
        for k in range(2):
            x = torch.randn(32, 4, generator=g)
            sign = -1.0 if (conflict and k == 1) else 1.0
            losses.append(((layer(x, k) - sign * x @ A.T) ** 2).mean())
        per_scene_backward(losses, layer.shared_parameters(), [p for k in range(2) for p in layer.scene_parameters(k)])
        (penalty * sparsity_penalty(layer)).backward()
        opt.step()
    return layer


def test_penalty_drives_unneeded_scores_to_sharing() -> None:
    agree = _fit(conflict=False, penalty=0.5)
    assert not any(agree.is_specific(k) for k in range(2))  # nothing to gain from own weights → shared
    assert agree.deployed_size() == 4 * 4 + 4 + 2  # shared weights + bias + one score per scene
    free = _fit(conflict=False, penalty=0.0)
    assert all(free.is_specific(k) for k in range(2))  # without the penalty the gates stay open
    conflict = _fit(conflict=True, penalty=0.5)
    assert any(conflict.is_specific(k) for k in range(2))  # a scene that needs its own weights keeps them


def test_modes_and_sizes() -> None:
    for mode, size in (("separate", 3 * (12 + 3)), ("shared", 12 + 3), ("adaptive", 12 + 3 + 3 * (12 + 3) + 3)):
        layer = SceneLayer("linear", 4, 3, 3, mode)
        assert layer.deployed_size() == size, mode
    layer = SceneLayer("conv", 3, 8, 2, "adaptive", kernel=3, padding=1)
    assert layer(torch.randn(1, 3, 5, 5), 1).shape == (1, 8, 5, 5)
    with pytest.raises(IndexError, match="scene index 2"):
        layer(torch.randn(1, 3, 5, 5), 2)
    with pytest.raises(ValueError, match="mode"):
        SceneLayer("linear", 4, 3, 1, "mixed")


def test_gates_are_frozen_after_the_search() -> None:
    from spatialevo.pose import TrainConfig, new_model, synthetic_pose_data, train

    data = synthetic_pose_data([0, 1], n_frames=16, size=(32, 24))
    model = new_model("adaptive", data)
    seen = []

    scores = [s for layer in model.convs for s in layer.scores]
    orig_step = torch.optim.Adam.step

    def step(self, *a, **k):  # record the scores after every optimiser step
        out = orig_step(self, *a, **k)
        seen.append(torch.stack([s.detach().clone() for s in scores]))
        return out

    torch.optim.Adam.step = step
    try:
        train(model, data, TrainConfig(steps=8, batch=4, search_frac=0.5))
    finally:
        torch.optim.Adam.step = orig_step
    assert not torch.equal(seen[0], seen[3])  # the scores learn during the search (steps 0-3)
    for later in seen[4:]:
        assert torch.equal(later, seen[3])  # and never move again
