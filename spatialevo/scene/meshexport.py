"""A scene as trimesh / open3d objects and as PLY or GLB files other tools open.

Everything is in the scene's world frame: metres, right-handed, z up (``docs/scenes.md``). What a
scene becomes (the same geometry in every output):

- ``"mesh"``: the scene mesh, its vertices and faces unchanged and in order, coloured by the mesh's
  vertex colours or, without them, by :func:`~spatialevo.scene.render.label_color` of each face's
  object (a vertex shared by faces of two objects takes the colour of the last face listed);
- ``"points"`` (``points=True``, or a scene without a mesh): the objects' surface points in the order
  of ``scene.objects``, each object in its label colour; a scene whose objects carry no points
  exports its point cloud ``scene.points`` instead (``point_colors``, grey without them);
- ``"box/<label#id>"``: the object's oriented box as a wireframe, its 8 corners in the order of
  :meth:`OrientedBox.corners` and the 12 edges of :data:`BOX_EDGES`, in the label colour;
- ``"camera/<frame id>"``: the frame's viewing frustum as a wireframe: the camera centre then the 4
  image corners (top-left, top-right, bottom-right, bottom-left pixel edges) at ``frustum_depth``
  metres along the optical axis, the 8 edges of :data:`FRUSTUM_EDGES`; coloured by capture order
  (viridis, first frame dark blue, last yellow).

Files (:func:`export_scene`, written atomically: temporary file + rename):

- **GLB**: a glTF binary scene with one node per geometry, named as above. glTF stores float32
  positions (about 1e-6 m at 10 m from the origin); boxes and frusta are ``LINES`` primitives with
  colours. ``trimesh.load(path)`` gives a :class:`trimesh.Scene` whose ``geometry`` keys are the
  names (pass ``process=False`` to keep the mesh's vertices unmerged; trimesh reads a ``LINES``
  primitive back as one polyline whose vertex pairs ``2k, 2k + 1`` are the segments).
- **PLY**: one binary little-endian file: a ``vertex`` element (``double`` x y z, ``uchar`` red
  green blue) holding the mesh or points first and then the wireframes' vertices (8 per box, 5 per
  camera, in that order), a ``face`` element for the mesh, and an ``edge`` element (``int`` vertex1
  vertex2) for the wireframes. Header comments ``spatialevo part <kind> <first vertex> <count>
  <name>`` say which vertices belong to what (:func:`ply_parts` reads them back). trimesh loads it
  as a ``Trimesh`` (mesh exports; ``process=False`` keeps every vertex) or a ``Path3D`` (edges, no
  faces); open3d as ``read_triangle_mesh`` / ``read_point_cloud`` (every vertex) and
  ``read_line_set`` (the edges). MeshLab, CloudCompare and Blender show the edges as lines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from spatialevo.dge.geometry import BOX_EDGES
from spatialevo.errors import SpatialEvoError
from spatialevo.scene.model import Scene

if TYPE_CHECKING:
    import trimesh

#: Export formats, by file suffix.
FORMATS = ("ply", "glb")
#: Default distance of a frustum's image rectangle from the camera centre, metres.
FRUSTUM_DEPTH_M = 0.3
#: The 8 edges of a frustum: centre (0) to each image corner (1-4), then the image rectangle.
FRUSTUM_EDGES = np.array([[0, 1], [0, 2], [0, 3], [0, 4], [1, 2], [2, 3], [3, 4], [4, 1]], dtype=np.int64)
#: Colour of cloud points without colours, RGB.
GREY = np.array([160, 160, 160], dtype=np.uint8)
#: PLY vertices (and faces) written per chunk, so the file's copy of the arrays stays small.
PLY_CHUNK = 1 << 18

_SIGNS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64)


@dataclass
class Wire:
    """One wireframe: ``vertices`` (k, 3) float64 world metres, ``edges`` (e, 2) int64 indices into
    them, ``color`` (3,) uint8; ``kind`` is ``"box"`` or ``"camera"``, ``meta`` JSON-able facts."""

    name: str
    kind: str
    vertices: np.ndarray
    edges: np.ndarray
    color: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ExportParts:
    """What a scene exports as, independent of the library: the surface (``surface`` is ``"mesh"``,
    ``"points"`` or ``None``; ``vertices`` (N, 3) float64, ``faces`` (F, 3) int64 or ``None``,
    ``colors`` (N, 3) uint8) and the wireframes."""

    surface: str | None
    vertices: np.ndarray
    faces: np.ndarray | None
    colors: np.ndarray
    wires: list[Wire]


def surface_arrays(scene: Scene, points: bool | None) -> tuple[str | None, np.ndarray, np.ndarray | None, np.ndarray]:
    """``(kind, vertices (N, 3) float64, faces (F, 3) int64 or None, colors (N, 3) uint8)``: the mesh
    (``points`` False, or None with a mesh) or the points (see the module docstring); kind ``None``
    (and empty arrays) when the scene has neither."""
    from spatialevo.scene.render import face_palette, label_color

    if scene.mesh is not None and not points:
        m = scene.mesh
        if m.vertex_colors is not None:
            colors = m.vertex_colors
        else:
            colors = np.tile(GREY, (len(m.vertices), 1))
            colors[m.faces.reshape(-1)] = np.repeat(face_palette(scene), 3, axis=0)
        return "mesh", m.vertices, m.faces, colors
    if points is False:
        raise SpatialEvoError(f"scene {scene.scene_id} has no mesh (export its points instead)")
    with_pts = [o for o in scene.objects if o.points is not None and len(o.points)]
    if with_pts:
        verts = np.concatenate([o.points for o in with_pts])
        colors = np.repeat(np.stack([label_color(o.label) for o in with_pts]), [len(o.points) for o in with_pts], axis=0)
        return "points", verts, None, colors
    if scene.points is not None and len(scene.points):
        colors = scene.point_colors if scene.point_colors is not None else np.tile(GREY, (len(scene.points), 1))
        return "points", scene.points, None, colors
    return None, np.zeros((0, 3)), None, np.zeros((0, 3), np.uint8)


def box_wires(scene: Scene) -> list[Wire]:
    """One wireframe per object box, named ``box/<label#id>`` (corners computed for all boxes at once)."""
    from spatialevo.scene.render import label_color

    if not scene.objects:
        return []
    c = np.stack([o.box.center for o in scene.objects])
    e = np.stack([o.box.extents for o in scene.objects])
    r = np.stack([o.box.rotation for o in scene.objects])
    corners = c[:, None, :] + np.einsum("nkj,nij->nki", _SIGNS[None] * (e[:, None, :] / 2.0), r)
    return [Wire(f"box/{o.ref}", "box", corners[i], BOX_EDGES, label_color(o.label), {"kind": "box", "label": o.label, "id": o.id})
            for i, o in enumerate(scene.objects)]


def camera_wires(scene: Scene, frustum_depth: float = FRUSTUM_DEPTH_M, every: int = 1) -> list[Wire]:
    """One frustum per ``every``-th frame, named ``camera/<frame id>`` (see the module docstring)."""
    from spatialevo.scene.drawing import colormap

    if not frustum_depth > 0 or not np.isfinite(frustum_depth):
        raise SpatialEvoError(f"frustum depth must be a positive number of metres, got {frustum_depth!r}")
    if every < 1:
        raise SpatialEvoError(f"camera step must be >= 1, got {every}")
    frames = scene.frames[::every]
    if not frames:
        return []
    tint = colormap(np.linspace(0.0, 1.0, len(frames)) if len(frames) > 1 else np.zeros(1))
    K = np.stack([f.K for f in frames])
    T = np.stack([f.T_wc for f in frames])
    size = np.array([[f.width - 0.5, f.height - 0.5] for f in frames])
    pix = np.ones((len(frames), 3, 4))  # columns: top-left, top-right, bottom-right, bottom-left pixel edges
    pix[:, 0] = np.c_[np.full(len(frames), -0.5), size[:, 0], size[:, 0], np.full(len(frames), -0.5)]
    pix[:, 1] = np.c_[np.full(len(frames), -0.5), np.full(len(frames), -0.5), size[:, 1], size[:, 1]]
    rays = np.linalg.solve(K, pix)  # (n, 3, 4) camera-frame rays of the image corners
    cam = np.concatenate([np.zeros((len(frames), 3, 1)), rays / rays[:, 2:3] * frustum_depth], axis=2)
    verts = np.einsum("nij,njk->nki", T[:, :3, :3], cam) + T[:, None, :3, 3]
    return [Wire(f"camera/{f.id}", "camera", verts[k], FRUSTUM_EDGES, tint[k], {"kind": "camera", "frame": f.id})
            for k, f in enumerate(frames)]


def export_parts(scene: Scene, *, points: bool | None = None, boxes: bool = True, cameras: bool = True,
                 frustum_depth: float = FRUSTUM_DEPTH_M, camera_every: int = 1) -> ExportParts:
    """The surface and wireframes of ``scene`` (the arguments of :func:`scene_to_trimesh`).

    Raises:
        SpatialEvoError: nothing to export, or ``points=False`` for a scene without a mesh.
    """
    kind, verts, faces, colors = surface_arrays(scene, points)
    wires = (box_wires(scene) if boxes else []) + (camera_wires(scene, frustum_depth, camera_every) if cameras else [])
    if kind is None and not wires:
        raise SpatialEvoError(f"scene {scene.scene_id} has nothing to export (no mesh, points, boxes or cameras selected)")
    return ExportParts(kind, verts, faces, colors, wires)


def scene_to_trimesh(scene: Scene, *, points: bool | None = None, boxes: bool = True, cameras: bool = True,
                     frustum_depth: float = FRUSTUM_DEPTH_M, camera_every: int = 1) -> trimesh.Scene:
    """``scene`` as a :class:`trimesh.Scene` (world frame, metres, z up) with named geometries.

    Args:
        points: ``None``: the mesh when there is one, else points; ``True``: the object points
            instead of the mesh; ``False``: the mesh (error without one).
        boxes: add a ``box/<label#id>`` :class:`trimesh.path.Path3D` per object (12 line entities).
        cameras: add a ``camera/<frame id>`` Path3D frustum per ``camera_every``-th frame.
        frustum_depth: distance of a frustum's image rectangle from its camera centre, metres.

    Returns:
        A scene whose ``geometry`` maps ``"mesh"`` (a :class:`trimesh.Trimesh`, vertices in order,
        not merged) or ``"points"`` (a :class:`trimesh.PointCloud`) and the wireframe names to
        geometries; every node has the identity transform and the geometry's name.
    """
    import trimesh
    from trimesh.path.entities import Line

    parts = export_parts(scene, points=points, boxes=boxes, cameras=cameras, frustum_depth=frustum_depth, camera_every=camera_every)
    out = trimesh.Scene()
    out.metadata.update({"scene_id": scene.scene_id, "units": "metres", "frame": "world, z up"})
    rgba = np.c_[parts.colors, np.full(len(parts.colors), 255, np.uint8)]
    if parts.surface == "mesh":
        geom = trimesh.Trimesh(parts.vertices, parts.faces, vertex_colors=rgba, process=False, validate=False)
        out.add_geometry(geom, node_name="mesh", geom_name="mesh")
    elif parts.surface == "points":
        out.add_geometry(trimesh.PointCloud(parts.vertices, colors=rgba), node_name="points", geom_name="points")
    for w in parts.wires:
        colors = np.tile(np.r_[w.color, 255].astype(np.uint8), (len(w.edges), 1))
        path = trimesh.path.Path3D(entities=[Line(e) for e in w.edges], vertices=w.vertices.copy(), colors=colors,
                                   metadata=dict(w.meta), process=False)
        out.add_geometry(path, node_name=w.name, geom_name=w.name)
    return out


def scene_to_open3d(scene: Scene, *, points: bool | None = None, boxes: bool = True, cameras: bool = True,
                    frustum_depth: float = FRUSTUM_DEPTH_M, camera_every: int = 1) -> dict[str, Any]:
    """``scene`` as open3d geometries (world frame, metres, z up), by the names of :func:`scene_to_trimesh`:
    ``"mesh"`` an ``open3d.geometry.TriangleMesh`` or ``"points"`` a ``PointCloud`` (vertex / point
    colours in [0, 1]), each wireframe a ``LineSet`` (one colour per line).
    ``open3d.visualization.draw_geometries(list(result.values()))`` shows them. Arguments as for
    :func:`scene_to_trimesh`; open3d is imported here, not with the package."""
    import open3d as o3d

    parts = export_parts(scene, points=points, boxes=boxes, cameras=cameras, frustum_depth=frustum_depth, camera_every=camera_every)
    out: dict[str, Any] = {}
    colors = parts.colors.astype(np.float64) / 255.0
    if parts.surface == "mesh":
        m = o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(parts.vertices), o3d.utility.Vector3iVector(parts.faces.astype(np.int32)))
        m.vertex_colors = o3d.utility.Vector3dVector(colors)
        out["mesh"] = m
    elif parts.surface == "points":
        pc = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(parts.vertices))
        pc.colors = o3d.utility.Vector3dVector(colors)
        out["points"] = pc
    for w in parts.wires:
        ls = o3d.geometry.LineSet(o3d.utility.Vector3dVector(w.vertices), o3d.utility.Vector2iVector(w.edges.astype(np.int32)))
        ls.colors = o3d.utility.Vector3dVector(np.tile(w.color / 255.0, (len(w.edges), 1)))
        out[w.name] = ls
    return out


def export_format(path: str | Path, format: str | None = None) -> str:
    """The format of ``path``: ``format`` when given (it must agree with a ``.ply`` / ``.glb``
    suffix), else the suffix. Raises :class:`SpatialEvoError` (one line) otherwise."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if format is not None:
        fmt = str(format).lower().lstrip(".")
        if fmt not in FORMATS:
            raise SpatialEvoError(f"unknown export format {format!r} (expected {' or '.join(FORMATS)})")
        if suffix in FORMATS and suffix != fmt:
            raise SpatialEvoError(f"'{path}' ends in .{suffix} but the format asked for is {fmt}")
        return fmt
    if suffix not in FORMATS:
        raise SpatialEvoError(f"cannot tell the export format of '{path}': name a .ply or .glb file or give the format")
    return suffix


def _atomic_write(path: Path, chunks: Any) -> None:
    """Write the byte strings of the iterable ``chunks`` to ``path`` atomically
    (:func:`~spatialevo.scene.imageio.atomic_file`: nothing partial is left on failure)."""
    from spatialevo.scene.imageio import atomic_file

    try:
        with atomic_file(path) as fh:
            for chunk in chunks:
                fh.write(chunk)
    except OSError as exc:
        raise SpatialEvoError(f"cannot write '{path}': {exc.strerror or exc}") from None


def _ply_chunks(parts: ExportParts, scene_id: str):
    """The bytes of the PLY file of ``parts`` (layout in the module docstring), a chunk at a time."""
    n_surface = len(parts.vertices)
    n_vert = n_surface + sum(len(w.vertices) for w in parts.wires)
    n_edge = sum(len(w.edges) for w in parts.wires)
    head = ["ply", "format binary_little_endian 1.0", f"comment spatialevo scene {scene_id}: world frame, metres, z up"]
    if parts.surface is not None:
        head.append(f"comment spatialevo part {parts.surface} 0 {n_surface} {parts.surface}")
    start = n_surface
    for w in parts.wires:
        head.append(f"comment spatialevo part {w.kind} {start} {len(w.vertices)} {w.name}")
        start += len(w.vertices)
    head += [f"element vertex {n_vert}"] + [f"property double {a}" for a in "xyz"] + [f"property uchar {c}" for c in ("red", "green", "blue")]
    if parts.faces is not None:
        head += [f"element face {len(parts.faces)}", "property list uchar int vertex_indices"]
    if n_edge:
        head += [f"element edge {n_edge}", "property int vertex1", "property int vertex2"]
    yield ("\n".join([*head, "end_header"]) + "\n").encode("utf-8")
    vdt = np.dtype([("xyz", "<f8", (3,)), ("rgb", "u1", (3,))])
    for lo in range(0, n_surface, PLY_CHUNK):
        rec = np.empty(min(PLY_CHUNK, n_surface - lo), vdt)
        rec["xyz"], rec["rgb"] = parts.vertices[lo:lo + len(rec)], parts.colors[lo:lo + len(rec)]
        yield rec.tobytes()
    if parts.wires:
        rec = np.empty(n_vert - n_surface, vdt)
        rec["xyz"] = np.concatenate([w.vertices for w in parts.wires])
        rec["rgb"] = np.repeat(np.stack([w.color for w in parts.wires]), [len(w.vertices) for w in parts.wires], axis=0)
        yield rec.tobytes()
    if parts.faces is not None:
        fdt = np.dtype([("n", "u1"), ("idx", "<i4", (3,))])
        for lo in range(0, len(parts.faces), PLY_CHUNK):
            rec = np.empty(min(PLY_CHUNK, len(parts.faces) - lo), fdt)
            rec["n"], rec["idx"] = 3, parts.faces[lo:lo + len(rec)]
            yield rec.tobytes()
    if n_edge:
        offsets = n_surface + np.cumsum([0] + [len(w.vertices) for w in parts.wires[:-1]])
        yield np.concatenate([w.edges + off for w, off in zip(parts.wires, offsets)]).astype("<i4").tobytes()


def ply_parts(path: str | Path) -> list[tuple[str, int, int, str]]:
    """``(kind, first vertex, vertex count, name)`` of each part of a PLY file written by
    :func:`export_scene`, read from its header comments (kind: ``mesh``, ``points``, ``box``, ``camera``)."""
    out = []
    with open(path, "rb") as fh:
        for raw in fh:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if line == "end_header":
                break
            words = line.split(" ", 6)
            if words[:3] == ["comment", "spatialevo", "part"] and len(words) == 7:
                out.append((words[3], int(words[4]), int(words[5]), words[6]))
    return out


def export_scene(scene: Scene, path: str | Path, format: str | None = None, **options: Any) -> Path:
    """Write ``scene`` to ``path`` as PLY or GLB (layouts in the module docstring); return the path.

    Args:
        format: ``"ply"`` or ``"glb"``; default: the suffix of ``path``.
        options: ``points``, ``boxes``, ``cameras``, ``frustum_depth``, ``camera_every`` of
            :func:`scene_to_trimesh`.

    Raises:
        SpatialEvoError: unknown or contradictory format, nothing to export, or the file cannot be written.
    """
    path = Path(path)
    fmt = export_format(path, format)
    if fmt == "ply":
        _atomic_write(path, _ply_chunks(export_parts(scene, **options), scene.scene_id))
    else:
        _atomic_write(path, [scene_to_trimesh(scene, **options).export(file_type="glb")])
    return path
