"""Pose training data: RGB frames with camera-to-world poses, per scene.

Images are stored as (N, 3, H, W) uint8 and poses as (N, 4, 4) camera-to-world matrices (world
frame, metres; OpenCV camera). Frames come from any :class:`~spatialevo.scene.model.Scene` with
images (rendered for synthetic scenes, read from disk for scans) resized to a common size, or
from arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from spatialevo.errors import SpatialEvoError
from spatialevo.scene.model import Scene


@dataclass
class PoseData:
    """The frames of one scene.

    Attributes:
        name: scene name (the key the pose models use).
        images: (N, 3, H, W) uint8 RGB.
        poses: (N, 4, 4) float64 camera-to-world, world frame, metres.
        frame_ids: N frame ids.
    """

    name: str
    images: np.ndarray
    poses: np.ndarray
    frame_ids: list[str]

    def __post_init__(self) -> None:
        imgs, poses = np.asarray(self.images), np.asarray(self.poses, dtype=np.float64)
        if imgs.ndim != 4 or imgs.shape[1] != 3 or imgs.dtype != np.uint8:
            raise SpatialEvoError(f"scene {self.name}: images must be (N, 3, H, W) uint8, got {imgs.shape} {imgs.dtype}")
        if poses.shape != (len(imgs), 4, 4):
            raise SpatialEvoError(
                f"scene {self.name}: every frame needs a 4x4 pose; got {poses.shape} poses for {len(imgs)} images"
            )
        bad = np.flatnonzero(~np.isfinite(poses).all(axis=(1, 2)))
        if len(bad):
            ids = [self.frame_ids[i] for i in bad[:3]] if len(self.frame_ids) == len(imgs) else bad[:3].tolist()
            raise SpatialEvoError(f"scene {self.name}: {len(bad)} frame(s) have no valid pose (non-finite), e.g. {ids}")
        if len(self.frame_ids) != len(imgs):
            raise SpatialEvoError(f"scene {self.name}: {len(self.frame_ids)} frame ids for {len(imgs)} images")
        if len(imgs) == 0:
            raise SpatialEvoError(f"scene {self.name}: no frames")
        self.images, self.poses = imgs, poses

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.images.shape[3]), int(self.images.shape[2])

    def split(self, holdout_every: int = 4) -> tuple[PoseData, PoseData]:
        """(train, test): every ``holdout_every``-th frame (from index ``holdout_every // 2``) is a test frame."""
        if holdout_every < 2:
            raise SpatialEvoError(f"holdout_every must be >= 2, got {holdout_every}")
        test = np.zeros(len(self), bool)
        test[holdout_every // 2 :: holdout_every] = True
        if test.all() or not test.any():
            raise SpatialEvoError(f"scene {self.name}: {len(self)} frame(s) are too few to split")
        return self.subset(~test), self.subset(test)

    def subset(self, mask: np.ndarray) -> PoseData:
        idx = np.flatnonzero(mask)
        return PoseData(self.name, self.images[idx], self.poses[idx], [self.frame_ids[i] for i in idx])


def _resize(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if (rgb.shape[1], rgb.shape[0]) == size:
        return rgb
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).resize(size, Image.BILINEAR))


def pose_data_from_scene(scene: Scene, size: tuple[int, int] = (96, 72), name: str | None = None) -> PoseData:
    """The frames of a scene resized to ``size`` = (width, height) pixels.

    Raises:
        SpatialEvoError: the scene has no frames, or a frame has no RGB image.
    """
    if not scene.frames:
        raise SpatialEvoError(f"scene {scene.scene_id} has no camera frames; pose training needs frames with poses")
    imgs = []
    for f in scene.frames:
        try:
            rgb = scene.frame_images(f, ("rgb",))["rgb"]
        except (KeyError, ValueError, OSError) as exc:
            raise SpatialEvoError(f"scene {scene.scene_id}, frame {f.id}: no RGB image ({exc})") from None
        imgs.append(_resize(rgb, size).transpose(2, 0, 1))
    poses = np.stack([f.T_wc for f in scene.frames])
    return PoseData(name or scene.scene_id, np.stack(imgs), poses, [f.id for f in scene.frames])


def synthetic_pose_data(seeds: Sequence[int], n_frames: int = 240, size: tuple[int, int] = (96, 72)) -> list[PoseData]:
    """Rendered frames of synthetic rooms ``synth_<seed>`` (frames rendered at ``size`` directly)."""
    from spatialevo.synthetic import generate_room, room_config

    out = []
    for seed in seeds:
        scene = generate_room(int(seed), room_config(n_frames=n_frames, width=size[0], height=size[1]))
        out.append(pose_data_from_scene(scene, size))
    return out
