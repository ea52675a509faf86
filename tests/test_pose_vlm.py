"""The pose head on VLM visual features: shapes, learning, gradient paths, scenes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spatialevo.errors import SpatialEvoError
from spatialevo.pose.vlm import VisionPoseHead


def _batch(n: int, dim: int, seed: int) -> tuple[list[torch.Tensor], torch.Tensor, list[int]]:
    """Token features that encode the pose (so a head can learn it), random token counts."""
    g = torch.Generator().manual_seed(seed)
    scenes = torch.randint(0, 2, (n,), generator=g).tolist()
    poses = torch.eye(4).repeat(n, 1, 1)
    yaw = torch.rand(n, generator=g) * 2 - 1
    poses[:, 0, 0], poses[:, 0, 1], poses[:, 1, 0], poses[:, 1, 1] = yaw.cos(), -yaw.sin(), yaw.sin(), yaw.cos()
    poses[:, :3, 3] = torch.rand(n, 3, generator=g) * 3
    code = torch.cat([poses[:, :3, 3], yaw[:, None]], 1)
    proj = torch.randn(4, dim, generator=torch.Generator().manual_seed(99))
    feats = [(code[i] @ proj).repeat(int(torch.randint(3, 9, (1,), generator=g)), 1) + 0.01 * torch.randn(1, dim, generator=g) for i in range(n)]
    return feats, poses, scenes


def test_head_learns_poses_from_features() -> None:
    torch.manual_seed(0)
    head = VisionPoseHead(32, ["a", "b"], hidden=64)
    feats, poses, scenes = _batch(64, 32, 1)
    for k in range(2):
        head.set_translation_stats(k, poses[torch.tensor(scenes) == k].numpy())
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    first = None
    for _ in range(200):
        opt.zero_grad()
        loss = head.backward(feats, poses, scenes)
        first = first if first is not None else loss
        opt.step()
    assert loss < 0.2 * first
    t, R = head(feats, scenes)
    assert t.shape == (64, 3) and R.shape == (64, 3, 3)


def test_gradients_reach_the_vision_tower() -> None:
    torch.manual_seed(0)
    tower = torch.nn.Linear(8, 16)
    head = VisionPoseHead(16, ["a", "b"], hidden=16)
    feats, poses, scenes = _batch(6, 8, 2)
    out = [tower(f) for f in feats]
    head.backward(out, poses, scenes, weight=0.5)
    assert tower.weight.grad is not None and tower.weight.grad.abs().sum() > 0
    # the tower receives exactly the gradient of weight × mean per-scene loss
    g1 = tower.weight.grad.clone()
    tower.zero_grad()
    losses = head.scene_losses([tower(f) for f in feats], poses, scenes)
    (0.5 * torch.stack([losses[k] for k in sorted(losses)]).mean()).backward()
    assert torch.allclose(g1, tower.weight.grad, atol=1e-6)
    # a plain differentiable loss for the policy's optimiser also works
    head.zero_grad()
    head.loss([tower(f) for f in feats], poses, scenes).backward()
    assert head.query.grad is not None


def test_scenes_and_bad_input() -> None:
    head = VisionPoseHead(8, ["a"], hidden=8)
    with pytest.raises(SpatialEvoError, match="not seen at training time"):
        head.scene_index("b")
    k = head.add_scene("b", np.tile(np.eye(4), (3, 1, 1)))
    assert k == 1 and head(torch.randn(2, 5, 8).unbind(0), [0, 1])[0].shape == (2, 3)
    with pytest.raises(SpatialEvoError, match="already"):
        head.add_scene("b", np.tile(np.eye(4), (3, 1, 1)))
    with pytest.raises(SpatialEvoError, match=r"\(tokens, 8\)"):
        head([torch.randn(5, 7)], [0])
    with pytest.raises(SpatialEvoError, match="scene indices"):
        head([torch.randn(5, 8)], [0, 1])


def test_head_on_a_tiny_qwen25vl_vision_tower(tmp_path) -> None:
    pytest.importorskip("transformers")
    from PIL import Image

    from spatialevo.pose.vlm import qwen_image_features
    from spatialevo.train.tiny import make_tiny_qwen25vl

    model, processor = make_tiny_qwen25vl(tmp_path / "tiny")
    rng = np.random.default_rng(0)
    images = [Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)) for _ in range(3)]
    enc = processor.image_processor(images=images, return_tensors="pt")
    feats = qwen_image_features(model, enc["pixel_values"], enc["image_grid_thw"])
    assert len(feats) == 3 and all(f.shape == (4, model.config.vision_config.out_hidden_size) for f in feats)
    head = VisionPoseHead(feats[0].shape[1], ["a", "b"], hidden=16)
    poses = torch.eye(4).repeat(3, 1, 1)
    poses[:, :3, 3] = torch.tensor([[0.0, 0, 1], [1, 0, 1], [0, 2, 1]])
    head.set_translation_stats(0, poses[:2].numpy())
    head.set_translation_stats(1, poses[2:].numpy())
    model.zero_grad()
    head.backward(feats, poses, [0, 0, 1], weight=0.1)
    tower = model.model.visual if hasattr(model.model, "visual") else model.visual
    grads = [p.grad for p in tower.parameters() if p.grad is not None]
    assert grads and sum(float(g.abs().sum()) for g in grads) > 0  # the auxiliary loss trains the vision tower
