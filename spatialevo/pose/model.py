"""Multi-scene camera-pose regressors: a small CNN (CPU-friendly) whose layers are
:class:`~spatialevo.pose.sharing.SceneLayer` s, and per-scene pose heads.

``PoseNet(mode=...)`` builds the three variants of the reproduction with the same architecture:
``separate`` (one model per scene), ``shared`` (one shared backbone, per-scene heads) and
``adaptive`` (layer-adaptive sharing). The output per image is a translation (normalised by the
scene's camera-centre statistics) and a 6D rotation; :meth:`PoseNet.predict` returns
camera-to-world poses in world metres.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from spatialevo.errors import SpatialEvoError
from spatialevo.pose.rotation import sixd_to_matrix
from spatialevo.pose.sharing import MultiSceneMixin, SceneLayer, scene_layers


@dataclass(frozen=True)
class PoseNetConfig:
    """Architecture of :class:`PoseNet`.

    Attributes:
        mode: ``"separate"``, ``"shared"`` or ``"adaptive"``.
        size: input (width, height) in pixels.
        channels: output channels of the stride-2 conv layers.
        hidden: width of the fully connected layer before the heads.
        init_score: initial score logit of adaptive layers.
    """

    mode: str = "adaptive"
    size: tuple[int, int] = (96, 72)
    channels: tuple[int, ...] = (16, 32, 64, 64, 64)
    hidden: int = 128
    init_score: float = 1.0
    scene_names: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["size"], d["channels"] = list(self.size), list(self.channels)
        return d


class PoseNet(MultiSceneMixin, nn.Module):
    """Pose regressor for several scenes (see module docstring).

    Args:
        config: architecture; ``config.scene_names`` are the scenes known at construction.
    """

    unseen_hint = "; add it with `spatialevo pose train --add-scene`"

    def __init__(self, config: PoseNetConfig):
        super().__init__()
        self.config = config
        n = len(config.scene_names)
        self.scene_names: list[str] = list(config.scene_names)
        kw = {"mode": config.mode, "init_score": config.init_score}
        convs, c_in = [], 3
        for i, c in enumerate(config.channels):
            k = 5 if i == 0 else 3
            convs.append(SceneLayer("conv", c_in, c, n, kernel=k, stride=2, padding=k // 2, **kw))
            c_in = c
        self.convs = nn.ModuleList(convs)
        w, h = config.size
        for _ in config.channels:
            w, h = (w + 1) // 2, (h + 1) // 2
        self.fc = SceneLayer("linear", c_in * w * h, config.hidden, n, **kw)
        # the pose heads are scene-specific in every mode (as the regression layers in OFVL-MS)
        self.head = SceneLayer("linear", config.hidden, 9, n, mode="separate")
        self.register_buffer("t_mean", torch.zeros(n, 3))
        self.register_buffer("t_scale", torch.ones(n))

    # -- scenes ---------------------------------------------------------------------------------
    def shared_parameters(self) -> list[nn.Parameter]:
        return [p for layer in scene_layers(self) for p in layer.shared_parameters()]

    def scene_parameters(self, k: int) -> list[nn.Parameter]:
        return [p for layer in scene_layers(self) for p in layer.scene_parameters(k)]

    def deployed_size(self) -> int:
        """Parameters stored after training (closed adaptive gates store no scene weights)."""
        return sum(layer.deployed_size() for layer in scene_layers(self))

    # -- forward --------------------------------------------------------------------------------
    def features(self, x: torch.Tensor, k: int) -> torch.Tensor:
        for conv in self.convs:
            x = F.relu(F.group_norm(conv(x, k), 4))
        return F.relu(self.fc(x.flatten(1), k))

    def forward(self, images: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 3, H, W) uint8 or float images of scene ``k`` → (B, 3) normalised translation, (B, 3, 3) rotation."""
        x = images.float() / 255.0 - 0.5 if images.dtype == torch.uint8 else images
        out = self.head(self.features(x, k), k)
        return out[:, :3], sixd_to_matrix(out[:, 3:])

    def normalise(self, poses: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 4, 4) camera-to-world poses (metres) → normalised translation, rotation."""
        return (poses[:, :3, 3] - self.t_mean[k]) / self.t_scale[k], poses[:, :3, :3]

    @torch.no_grad()
    def predict(self, images: np.ndarray | torch.Tensor, scene: str, batch: int = 256) -> np.ndarray:
        """(N, 4, 4) camera-to-world poses (world, metres) of images (N, 3, H, W) uint8 of a known scene."""
        k = self.scene_index(scene)
        x = torch.as_tensor(np.asarray(images))
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[2:]) != (self.config.size[1], self.config.size[0]):
            w, h = self.config.size
            raise SpatialEvoError(f"images must be (N, 3, {h}, {w}) for this model, got {tuple(x.shape)}")
        was = self.training
        self.eval()
        out = []
        for i in range(0, len(x), batch):
            t, R = self(x[i : i + batch], k)
            T = torch.eye(4).repeat(len(t), 1, 1)
            T[:, :3, :3] = R
            T[:, :3, 3] = t * self.t_scale[k] + self.t_mean[k]
            out.append(T)
        self.train(was)
        return torch.cat(out).double().numpy()


def pose_loss(t_pred: torch.Tensor, R_pred: torch.Tensor, t_true: torch.Tensor, R_true: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
    """Mean L1 error of the normalised translation plus ``beta`` × mean squared Frobenius
    distance of the rotations (both continuous in the network output)."""
    return (t_pred - t_true).abs().sum(1).mean() + beta * ((R_pred - R_true) ** 2).sum((1, 2)).mean()
