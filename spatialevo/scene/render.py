"""Rendering frames of a meshed scene with open3d ray casting.

For every pixel (u, v) of a frame (pixel centres at integer coordinates, OpenCV convention) one
ray leaves the camera centre along ``R_wc @ K⁻¹ [u, v, 1]ᵀ``. Because the camera-frame direction
has z = 1, the ray parameter of the first hit *is* the metric z-depth (camera frame, metres),
which is what depth sensors and ScanNet store. Outputs:

- ``depth``: (H, W) float32 z-depth in metres, 0 where the ray hits nothing;
- ``instance``: (H, W) int32 ``SceneMesh.face_object_ids`` of the hit face (``NO_HIT`` = -1);
- ``rgb``: (H, W, 3) uint8, flat per-face colour (the mean of the face's vertex colours, or a
  fixed per-label palette when the mesh has none), shaded by a head-light Lambert term
  ``0.35 + 0.65·|n·d|`` with ``d`` the unit ray direction.

Post-processing is float32 numpy on flat arrays; the per-intrinsics ray directions are cached.
"""

from __future__ import annotations

import hashlib
import weakref
from typing import TYPE_CHECKING

import numpy as np
import open3d as o3d

from spatialevo.scene.model import NO_HIT, STRUCTURE_LABELS, Frame, Scene

if TYPE_CHECKING:
    from spatialevo.scene.model import SceneMesh

def label_color(label: str) -> np.ndarray:
    """Deterministic (3,) uint8 colour for a label (stable across runs and machines)."""
    h = hashlib.sha1(label.encode()).digest()
    return np.array([64 + h[0] % 176, 64 + h[1] % 176, 64 + h[2] % 176], dtype=np.uint8)


def face_palette(scene: Scene) -> np.ndarray:
    """(F, 3) uint8 per-face colours from object labels (used when the mesh has no vertex colours)."""
    assert scene.mesh is not None
    ids = scene.mesh.face_object_ids
    table = {o.id: label_color(o.label) for o in scene.objects}
    table.update({k: label_color(v) for k, v in STRUCTURE_LABELS.items()})
    uniq, inv = np.unique(ids, return_inverse=True)
    colours = np.array([table.get(int(i), np.array([128, 128, 128], np.uint8)) for i in uniq], dtype=np.uint8)
    return colours[inv.reshape(-1)]


class Renderer:
    """Ray-casting renderer bound to one scene's mesh (the acceleration structure is built once).

    Args:
        mesh: the scene mesh (world frame, metres).
        face_colors: optional (F, 3) uint8 colours used when the mesh has no vertex colours.
        threads: ray-casting threads (0 = all cores).
    """

    def __init__(self, mesh: SceneMesh, face_colors: np.ndarray | None = None, threads: int = 0) -> None:
        self.mesh = mesh
        self._rc = o3d.t.geometry.RaycastingScene(nthreads=threads)
        self._rc.add_triangles(
            o3d.core.Tensor(np.ascontiguousarray(mesh.vertices, dtype=np.float32)),
            o3d.core.Tensor(np.ascontiguousarray(mesh.faces, dtype=np.uint32)),
        )
        # one extra entry at index F stands for "no hit"
        self._face_ids = np.concatenate([mesh.face_object_ids, [NO_HIT]]).astype(np.int32)
        if mesh.vertex_colors is not None:
            fc = mesh.vertex_colors[mesh.faces].astype(np.float32).mean(axis=1)
        elif face_colors is not None:
            fc = face_colors.astype(np.float32)
        else:
            fc = np.full((len(mesh.faces), 3), 160.0, np.float32)
        self._face_colors = np.concatenate([fc, np.zeros((1, 3), np.float32)])
        self._ray_cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._ray_buf: np.ndarray | None = None  # reused (N, 6) float32 ray array: not thread-safe

    def _camera_dirs(self, K: np.ndarray, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
        """(H·W, 3) float32 camera-frame ray directions with z = 1, and (H·W,) their inverse norms."""
        key = (K.tobytes(), width, height)
        cached = self._ray_cache.get(key)
        if cached is None:
            u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
            dirs = np.stack([(u - K[0, 2]) / K[0, 0], (v - K[1, 2]) / K[1, 1], np.ones_like(u)], axis=-1).reshape(-1, 3)
            cached = (dirs.astype(np.float32), (1.0 / np.linalg.norm(dirs, axis=1)).astype(np.float32))
            if len(self._ray_cache) > 8:
                self._ray_cache.clear()
            self._ray_cache[key] = cached
        return cached

    def cast(self, origins: np.ndarray, directions: np.ndarray) -> dict[str, np.ndarray]:
        """Cast (..., 3) rays (world frame, metres); returns open3d's result arrays as numpy.

        ``t_hit`` is in units of the direction's length (inf on a miss).
        """
        rays = np.empty(directions.shape[:-1] + (6,), dtype=np.float32)
        rays[..., :3] = origins
        rays[..., 3:] = directions
        return self._cast_rays(rays)

    def _cast_rays(self, rays: np.ndarray) -> dict[str, np.ndarray]:
        """Cast a (..., 6) float32 array of (origin, direction) rays; open3d's results as numpy."""
        return {k: v.numpy() for k, v in self._rc.cast_rays(o3d.core.Tensor.from_numpy(rays)).items()}

    def render(self, frame: Frame, kinds: tuple[str, ...] = ("rgb", "depth", "instance")) -> dict[str, np.ndarray]:
        """Render ``frame``; returns the requested images (see the module docstring)."""
        dirs_c, inv_norm = self._camera_dirs(frame.K, frame.width, frame.height)
        n = len(dirs_c)
        if self._ray_buf is None or len(self._ray_buf) != n:
            self._ray_buf = np.empty((n, 6), dtype=np.float32)
        rays = self._ray_buf
        rays[:, :3] = frame.T_wc[:3, 3]
        dirs_w = np.matmul(dirs_c, frame.T_wc[:3, :3].T.astype(np.float32), out=rays[:, 3:])
        hit = self._cast_rays(rays)
        shape = (frame.height, frame.width)
        # misses carry INVALID_ID (2**32 - 1): clamping maps them to the extra "no hit" entry F
        prim = np.minimum(hit["primitive_ids"], np.uint32(len(self.mesh.faces)))
        out: dict[str, np.ndarray] = {}
        if "depth" in kinds:
            t_hit = hit["t_hit"]
            t_hit[~np.isfinite(t_hit)] = 0.0
            out["depth"] = t_hit.reshape(shape)
        if "instance" in kinds:
            out["instance"] = np.take(self._face_ids, prim).reshape(shape)
        if "rgb" in kinds:
            nrm = hit["primitive_normals"]
            cos = nrm[:, 0] * dirs_w[:, 0]
            cos += nrm[:, 1] * dirs_w[:, 1]
            cos += nrm[:, 2] * dirs_w[:, 2]
            np.abs(cos, out=cos)
            cos *= inv_norm
            np.minimum(cos, np.float32(1.0), out=cos)
            shade = np.float32(0.35) + np.float32(0.65) * cos
            rgb = np.take(self._face_colors, prim, axis=0)
            rgb *= shade[:, None]
            out["rgb"] = rgb.astype(np.uint8).reshape(shape + (3,))
        return out


_RENDERERS: weakref.WeakKeyDictionary[Scene, Renderer] = weakref.WeakKeyDictionary()


def get_renderer(scene: Scene) -> Renderer:
    """The (cached) :class:`Renderer` of a scene with a mesh.

    Raises:
        ValueError: the scene has no mesh.
    """
    if scene.mesh is None:
        raise ValueError(f"scene {scene.scene_id} has no mesh to render")
    r = _RENDERERS.get(scene)
    if r is None or r.mesh is not scene.mesh:
        r = Renderer(scene.mesh, None if scene.mesh.vertex_colors is not None else face_palette(scene))
        _RENDERERS[scene] = r
    return r


def render_frame(scene: Scene, frame: Frame | str, kinds: tuple[str, ...] = ("rgb", "depth", "instance")) -> dict[str, np.ndarray]:
    """Render one frame of a meshed scene (see the module docstring for the outputs)."""
    f = scene.frame(frame) if isinstance(frame, str) else frame
    return get_renderer(scene).render(f, kinds)
