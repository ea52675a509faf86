"""``spatialevo scene {export,view}``: a scene as a PLY / GLB file, or in the rerun viewer (library code
in :mod:`spatialevo.scene.meshexport` and :mod:`spatialevo.scene.rerunview`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from spatialevo.cli import add_label_options
from spatialevo.errors import SpatialEvoError


def add_parsers(ss: argparse._SubParsersAction) -> None:
    """Register ``export`` and ``view`` on the ``scene`` subparsers ``ss``."""
    from spatialevo.scene.meshexport import FRUSTUM_DEPTH_M

    e = ss.add_parser(
        "export",
        help="write a scene as a PLY or GLB file for other 3D tools",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Write a scene (world frame, metres, z up) as one PLY or GLB file that trimesh, open3d, MeshLab,\n"
            "CloudCompare, Blender and glTF viewers open: the mesh (or the objects' points), each object's\n"
            "oriented box as a wireframe in its label colour, and each camera as a frustum coloured by capture\n"
            "order. GLB: one named node per geometry (mesh, box/<label#id>, camera/<frame id>). PLY: the vertices\n"
            "of all parts, the mesh faces and the wireframe edges, with header comments naming each part."
        ),
        epilog=(
            "examples:\n"
            "  spatialevo scene export scenes/rect_small.npz --out out/rect_small.glb\n"
            "  spatialevo scene export scenes/rect_small.npz --out out/rect_small.ply --points --no-cameras"
        ),
    )
    e.add_argument("path", type=Path, help="scene folder or file (ScanNet, ScanNet++, ARKitScenes, Pointcept, VoteNet, box-list JSON, cache)")
    e.add_argument("--out", type=Path, required=True, metavar="FILE", help="output file, .ply or .glb (folders are created)")
    e.add_argument("--format", choices=["ply", "glb"], default=None, help="file format (default: from the suffix of --out)")
    e.add_argument("--points", action="store_true",
                   help="export the objects' points instead of the mesh (default: the mesh; scenes without one export points)")
    e.add_argument("--no-boxes", action="store_true", help="leave out the box wireframes (default: included)")
    e.add_argument("--no-cameras", action="store_true", help="leave out the camera frusta (default: included)")
    e.add_argument("--camera-every", type=int, default=1, metavar="K", help="draw every k-th camera (default 1: all)")
    e.add_argument("--frustum-depth", type=float, default=FRUSTUM_DEPTH_M, metavar="M",
                   help=f"distance of a frustum's image rectangle from its camera, metres (default {FRUSTUM_DEPTH_M})")
    add_label_options(e)
    e.set_defaults(func=cmd_export)

    v = ss.add_parser(
        "view",
        help="show a scene, its boxes, cameras and frames in the rerun viewer (the rerun extra)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Log a scene to rerun (pip install 'spatialevo[rerun]'): the mesh or points, the object boxes with\n"
            "their labels, the camera trajectory and, on the timeline 'frame', each camera's pose, intrinsics,\n"
            "RGB and depth image (stored, or rendered from the mesh). With --save the recording goes to an .rrd\n"
            "file (open it with: rerun FILE.rrd); without it a viewer window is started."
        ),
        epilog=(
            "examples:\n"
            "  spatialevo scene view scenes/rect_small.npz\n"
            "  spatialevo scene view scenes/rect_small.npz --save out/rect_small.rrd --every 4"
        ),
    )
    v.add_argument("path", type=Path, help="scene folder or file (any layout scene inspect reads)")
    v.add_argument("--save", type=Path, default=None, metavar="FILE.rrd", help="write an .rrd file instead of starting the viewer (default: start it)")
    v.add_argument("--frames", default=None, help="comma-separated frame ids (default: all)")
    v.add_argument("--every", type=int, default=1, metavar="K", help="log every k-th frame (default 1)")
    v.add_argument("--limit", type=int, default=None, metavar="N", help="at most this many frames (default: no limit)")
    v.add_argument("--no-images", action="store_true", help="log the cameras without their RGB and depth images (default: with)")
    v.add_argument("--points", action="store_true", help="show the objects' points instead of the mesh (default: the mesh)")
    add_label_options(v)
    v.set_defaults(func=cmd_view)


def cmd_export(args: argparse.Namespace) -> int:
    from spatialevo.scene.loaders import load_scene
    from spatialevo.scene.meshexport import export_format, export_scene

    fmt = export_format(args.out, args.format)  # a bad --out / --format fails before the scene is loaded
    scene = load_scene(args.path, labels=args.labels, label_map=args.label_map)
    path = export_scene(scene, args.out, fmt, points=True if args.points else None, boxes=not args.no_boxes,
                        cameras=not args.no_cameras, frustum_depth=args.frustum_depth, camera_every=args.camera_every)
    has_points = any(o.points is not None and len(o.points) for o in scene.objects) or scene.points is not None
    parts = ["mesh"] if scene.mesh is not None and not args.points else (["points"] if has_points else [])
    if not args.no_boxes:
        parts.append(f"{len(scene.objects)} boxes")
    if not args.no_cameras:
        parts.append(f"{len(scene.frames[:: args.camera_every])} cameras")
    print(f"wrote {path} ({fmt.upper()}: {', '.join(parts)}; world frame, metres, z up)")
    return 0


def cmd_view(args: argparse.Namespace) -> int:
    from spatialevo.scene.loaders import load_scene
    from spatialevo.scene.rerunview import import_rerun, view_scene

    import_rerun()  # the missing extra is reported before the scene is loaded
    if args.every < 1:
        raise SpatialEvoError("--every must be >= 1")
    if args.limit is not None and args.limit < 0:
        raise SpatialEvoError("--limit must be >= 0")
    scene = load_scene(args.path, labels=args.labels, label_map=args.label_map)
    try:
        frames = [scene.frame(fid) for fid in args.frames.split(",")] if args.frames else scene.frames
    except KeyError as exc:
        raise SpatialEvoError(str(exc.args[0])) from None
    frames = frames[:: args.every][: args.limit]
    out = view_scene(scene, save=args.save, frames=frames, images=not args.no_images, points=True if args.points else None)
    where = f"to {out}" if out is not None else "to the rerun viewer"
    print(f"logged {scene.scene_id} ({len(scene.objects)} boxes, {len(frames)} frames) {where}")
    return 0
