"""Rendering frames of a meshed scene: a numba rasteriser (default) and an open3d ray caster.

Both backends answer the same question. For every pixel (u, v) of a frame (pixel centres at
integer coordinates, OpenCV convention) one ray leaves the camera centre along
``R_wc @ K⁻¹ [u, v, 1]ᵀ`` (skew ignored). Because the camera-frame direction has z = 1, the ray
parameter of the first hit (t > 0, no near plane) *is* the metric z-depth (camera frame, metres),
which is what depth sensors and ScanNet store. Outputs:

- ``depth``: (H, W) float32 z-depth in metres, 0 where the ray hits nothing;
- ``instance``: (H, W) int32 ``SceneMesh.face_object_ids`` of the hit face (``NO_HIT`` = -1);
- ``rgb``: (H, W, 3) uint8, flat per-face colour (the mean of the face's vertex colours, or a
  fixed per-label palette when the mesh has none), shaded by a head-light Lambert term
  ``0.35 + 0.65·|n·d|`` with ``n`` the unit face normal and ``d`` the unit ray direction.

Backends (``Renderer(mesh, backend=...)``):

- ``"raster"`` (default): :mod:`spatialevo.scene.raster`, exact homogeneous rasterisation of the
  same float32 mesh in float64 (first-hit face and depth per pixel), several times faster.
- ``"raycast"``: open3d's ``RaycastingScene`` (Embree), the reference the tests compare with.

Both produce a per-pixel face index and share the instance / RGB post-processing
(:func:`spatialevo.scene.raster.shade_pixels`). :meth:`Renderer.cast` (arbitrary rays) always
ray-casts with open3d; its acceleration structure is built on first use. The visibility test uses
:meth:`Renderer.first_hit_distances` instead: the rasteriser's exact arithmetic for rays through
the camera centre (:mod:`spatialevo.scene.rays`). open3d is imported only by the ``"raycast"``
backend and :meth:`Renderer.cast` (≈ 1.3 s of import, most of it its visualisation module).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from typing import TYPE_CHECKING

import numpy as np

from spatialevo.scene.model import NO_HIT, STRUCTURE_LABELS, Frame, Scene
from spatialevo.scene.raster import camera_vertices, inverse_depth_to_depth, pixel_ray_norms, rasterize, shade_pixels

if TYPE_CHECKING:
    import open3d as o3d

    from spatialevo.scene.model import SceneMesh

#: Rendering backends: the default first.
BACKENDS = ("raster", "raycast")
KINDS = ("rgb", "depth", "instance")


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
    colours = np.array([table.get(int(i), np.array([128, 128, 128], np.uint8)) for i in uniq], dtype=np.uint8).reshape(-1, 3)
    return colours[inv.reshape(-1)]


class Renderer:
    """Renderer bound to one scene's mesh (per-mesh arrays are built once).

    Args:
        mesh: the scene mesh (world frame, metres).
        face_colors: optional (F, 3) uint8 colours used when the mesh has no vertex colours.
        threads: worker threads for rendering and ray casting (0 = all cores).
        backend: ``"raster"`` (default) or ``"raycast"`` for :meth:`render` (see the module docstring).

    Raises:
        ValueError: unknown backend.
    """

    def __init__(
        self, mesh: SceneMesh, face_colors: np.ndarray | None = None, threads: int = 0, backend: str = "raster"
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown rendering backend {backend!r}; choose one of {', '.join(BACKENDS)}")
        self.mesh = mesh
        self.backend = backend
        self.threads = threads
        self._rc: o3d.t.geometry.RaycastingScene | None = None
        self._lock = threading.Lock()
        # the ray caster sees float32 vertices; the rasteriser uses exactly the same positions
        v32 = np.ascontiguousarray(mesh.vertices, dtype=np.float32)
        self._v32 = v32
        self._vertices = v32.astype(np.float64)
        self._faces = np.ascontiguousarray(mesh.faces, dtype=np.int64)
        F = len(self._faces)
        # one extra entry at index F stands for "no hit"
        self._face_ids = np.concatenate([mesh.face_object_ids, [NO_HIT]]).astype(np.int32)
        if mesh.vertex_colors is not None:
            fc = mesh.vertex_colors[mesh.faces].astype(np.float32).mean(axis=1)
        elif face_colors is not None:
            fc = face_colors.astype(np.float32)
        else:
            fc = np.full((F, 3), 160.0, np.float32)
        self._face_colors = np.ascontiguousarray(np.concatenate([fc, np.zeros((1, 3), np.float32)]))
        tri = self._vertices[self._faces]
        nrm = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        length = np.linalg.norm(nrm, axis=1, keepdims=True)
        nrm = np.divide(nrm, length, out=np.zeros_like(nrm), where=length > 0)
        self._normals = np.concatenate([nrm, np.zeros((1, 3))])  # (F + 1, 3) unit normals, world frame
        self._ray_cache: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._norm_cache: dict[tuple, np.ndarray] = {}  # pixel ray lengths by (K, W, H), for shading
        self._ray_buf: np.ndarray | None = None  # reused (N, 6) float32 ray array: not thread-safe

    @property
    def raycasting_scene(self) -> o3d.t.geometry.RaycastingScene:
        """The open3d ray-casting scene of the mesh (built on first use)."""
        if self._rc is None:
            import open3d as o3d

            with self._lock:
                if self._rc is None:
                    rc = o3d.t.geometry.RaycastingScene(nthreads=self.threads)
                    rc.add_triangles(o3d.core.Tensor(self._v32), o3d.core.Tensor(self._faces.astype(np.uint32)))
                    self._rc = rc
        return self._rc

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

    def _ray_norms(self, K: np.ndarray, width: int, height: int) -> np.ndarray:
        """(H·W,) :func:`~spatialevo.scene.raster.pixel_ray_norms` of a frame size (cached, as the rays)."""
        key = (K.tobytes(), width, height)
        cached = self._norm_cache.get(key)
        if cached is None:
            if len(self._norm_cache) > 8:
                self._norm_cache.clear()
            cached = self._norm_cache[key] = pixel_ray_norms(width, height, K)
        return cached

    def cast(self, origins: np.ndarray, directions: np.ndarray) -> dict[str, np.ndarray]:
        """Cast (..., 3) rays (world frame, metres) with open3d; returns its result arrays as numpy.

        ``t_hit`` is in units of the direction's length (inf on a miss). Whatever the backend.
        """
        rays = np.empty(directions.shape[:-1] + (6,), dtype=np.float32)
        rays[..., :3] = origins
        rays[..., 3:] = directions
        return self._cast_rays(rays)

    def _cast_rays(self, rays: np.ndarray) -> dict[str, np.ndarray]:
        """Cast a (..., 6) float32 array of (origin, direction) rays; open3d's results as numpy."""
        import open3d as o3d

        return {k: v.numpy() for k, v in self.raycasting_scene.cast_rays(o3d.core.Tensor.from_numpy(rays)).items()}

    def first_hit_distances(self, frame: Frame, points: np.ndarray) -> np.ndarray:
        """(N,) float64 distance (metres) from ``frame``'s camera centre to the first surface hit
        along the ray towards each of the (N, 3) world points (``inf`` where it hits nothing).

        Exact hits of this mesh (the float32 vertices the renderer draws), computed as the
        rasteriser does (:func:`spatialevo.scene.rays.first_hit_depths`); every point must lie in
        front of the camera (camera-frame z > 0).
        """
        from spatialevo.scene.rays import first_hit_depths

        pc = camera_vertices(np.asarray(points, dtype=np.float64).reshape(-1, 3), frame.T_wc)
        z_hit = first_hit_depths(camera_vertices(self._vertices, frame.T_wc), self._faces, frame.K, pc)
        return z_hit * (np.linalg.norm(pc, axis=1) / pc[:, 2]) if len(pc) else z_hit

    def _raycast_faces(self, frame: Frame, want_depth: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Reference backend: (H·W,) int32 face index per pixel (F = no hit) and float32 depth (metres)."""
        dirs_c, _ = self._camera_dirs(frame.K, frame.width, frame.height)
        n = len(dirs_c)
        if self._ray_buf is None or len(self._ray_buf) != n:
            self._ray_buf = np.empty((n, 6), dtype=np.float32)
        rays = self._ray_buf
        rays[:, :3] = frame.T_wc[:3, 3]
        np.matmul(dirs_c, frame.T_wc[:3, :3].T.astype(np.float32), out=rays[:, 3:])
        hit = self._cast_rays(rays)
        # misses carry INVALID_ID (2**32 - 1): clamping maps them to the extra "no hit" entry F
        prim = np.minimum(hit["primitive_ids"], np.uint32(len(self._faces))).view(np.int32)
        depth = None
        if want_depth:
            depth = hit["t_hit"]
            depth[~np.isfinite(depth)] = 0.0
        return prim, depth

    def _raster_faces(self, frame: Frame, want_depth: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Default backend: (H·W,) int32 face index per pixel (F = no hit) and float32 depth (metres)."""
        Vc = camera_vertices(self._vertices, frame.T_wc)
        prim, inv_depth = rasterize(Vc, self._faces, frame.K, frame.width, frame.height, len(self._faces), self.threads)
        return prim, (inverse_depth_to_depth(inv_depth) if want_depth else None)

    def _faces_and_depth(self, frame: Frame, want_depth: bool, backend: str | None) -> tuple[np.ndarray, np.ndarray | None]:
        b = backend or self.backend
        if b not in BACKENDS:
            raise ValueError(f"unknown rendering backend {b!r}; choose one of {', '.join(BACKENDS)}")
        return (self._raster_faces if b == "raster" else self._raycast_faces)(frame, want_depth)

    def face_indices(self, frame: Frame, backend: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(H, W) int32 index of the face seen at every pixel (F = ``len(mesh.faces)`` where nothing
        is hit) and (H, W) float32 z-depth (camera frame, metres, 0 = no hit), from ``backend``
        (default: this renderer's)."""
        prim, depth = self._faces_and_depth(frame, True, backend)
        assert depth is not None
        shape = (frame.height, frame.width)
        return prim.reshape(shape), depth.reshape(shape)

    def render(
        self, frame: Frame, kinds: tuple[str, ...] = KINDS, backend: str | None = None
    ) -> dict[str, np.ndarray]:
        """Render ``frame``; returns the requested images (see the module docstring).

        ``backend`` overrides this renderer's backend for one call.
        """
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            raise ValueError(f"unknown image kind(s) {bad}; choose from {', '.join(KINDS)}")
        prim, depth = self._faces_and_depth(frame, "depth" in kinds, backend)
        shape = (frame.height, frame.width)
        out: dict[str, np.ndarray] = {}
        if depth is not None:
            out["depth"] = depth.reshape(shape)
        if "instance" in kinds or "rgb" in kinds:
            n = len(prim)
            inst = np.empty(n if "instance" in kinds else 0, np.int32)
            rgb = np.empty((n if "rgb" in kinds else 0, 3), np.uint8)
            R = np.ascontiguousarray(frame.T_wc[:3, :3], dtype=np.float64)
            K = np.ascontiguousarray(frame.K, dtype=np.float64)
            norms = self._ray_norms(K, frame.width, frame.height) if "rgb" in kinds else np.empty(0)
            shade_pixels(prim, frame.width, K, R, norms, self._normals, self._face_ids, self._face_colors, inst, rgb)
            if "instance" in kinds:
                out["instance"] = inst.reshape(shape)
            if "rgb" in kinds:
                out["rgb"] = rgb.reshape(shape + (3,))
        return out


_RENDERERS: weakref.WeakKeyDictionary[Scene, Renderer] = weakref.WeakKeyDictionary()


def get_renderer(scene: Scene) -> Renderer:
    """The (cached) :class:`Renderer` of a scene with a mesh (default backend; ``render`` takes
    ``backend=`` per call, and both backends share the renderer's per-mesh arrays).

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


def render_frame(
    scene: Scene, frame: Frame | str, kinds: tuple[str, ...] = KINDS, backend: str | None = None
) -> dict[str, np.ndarray]:
    """Render one frame of a meshed scene (see the module docstring for the outputs).

    ``backend``: ``"raster"`` (the default) or ``"raycast"``.
    """
    f = scene.frame(frame) if isinstance(frame, str) else frame
    return get_renderer(scene).render(f, kinds, backend=backend)
