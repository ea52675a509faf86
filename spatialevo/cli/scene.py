"""``spatialevo scene {generate,inspect,render,convert,export,view,bundle}``: the parsers and what each runs
(library code in :mod:`spatialevo.scene`, :mod:`spatialevo.synthetic` and :mod:`spatialevo.bundled`;
``export`` and ``view`` in :mod:`spatialevo.cli.scene_export`)."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from tqdm import tqdm

from spatialevo.cli import add_label_options, scene_export
from spatialevo.errors import SpatialEvoError

#: ``scene render --backend`` choices, the default first: a copy of
#: :data:`spatialevo.scene.render.BACKENDS` (importing that module loads numba, ~0.3 s, which every
#: ``--help`` would pay; ``tests/test_scene_pictures.py`` checks the two are equal)
RENDER_BACKENDS = ("raster", "raycast")

RENDER_DESCRIPTION = """\
Render the frames of a scene's mesh and write, into the --out folder:
  rgb/<frame>.png             colour image, 8-bit RGB
  depth/<frame>.png           z-depth (camera frame), 16-bit millimetres, 0 = no hit
  instance/<frame>.npy        int32 object ids: -1 no hit, -2 floor, -3 ceiling, -4 wall
  depth_color/<frame>.png     the depth in viridis, with a colour bar in metres on the right
  instance_color/<frame>.png  each object its own colour, floor / wall / ceiling grey, no hit black
  overview.png                thumbnails of up to 64 frames (evenly spaced): RGB | depth | instances
  visibility.json             visible fraction of each object in each frame
--no-pictures leaves out depth_color/, instance_color/ and overview.png.
The default backend is the numba rasteriser (raster); raycast uses open3d ray casting (Embree), the
reference the rasteriser is tested against (same images up to edge pixels, several times slower)."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Register ``scene`` and its subcommands on the top-level subparsers ``sub``."""
    p = sub.add_parser(
        "scene",
        help="generate, inspect, render, convert, export, view and bundle scenes",
        description="Work with scenes: make synthetic rooms, print a summary and a top-down picture, render frames "
                    "and their pictures, convert collections of scans, export a scene as PLY or GLB, open it in rerun, "
                    "rebuild the bundled scenes.",
    )
    ss = p.add_subparsers(dest="scene_cmd", required=True, metavar="{generate,inspect,render,convert,export,view,bundle}")
    _add_generate(ss)
    _add_inspect(ss)
    _add_render(ss)
    _add_convert(ss)
    scene_export.add_parsers(ss)

    b = ss.add_parser(
        "bundle",
        help="(re)build the bundled sample scenes from scenes/recipes.json",
        description="Regenerate scenes/<name>.npz from the recipes in scenes/recipes.json; with --check, verify "
                    "instead that the files match what the recipes generate.",
    )
    b.add_argument("--check", action="store_true", help="verify instead of writing; exit 1 on a mismatch (default: off, write)")
    b.add_argument("--dir", type=Path, default=None, help="scenes folder (default: the repository's scenes/, or $SPATIALEVO_SCENES)")
    b.set_defaults(func=cmd_bundle)


def _add_generate(ss: argparse._SubParsersAction) -> None:
    """``scene generate``: its parser."""
    g = ss.add_parser(
        "generate",
        help="generate seeded synthetic rooms (spatialevo cache .npz)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill("Generate synthetic rooms and write OUT/<scene>.npz for each. The same seed and "
                                  "options give byte-identical files.", 100),
        epilog="example:\n  spatialevo scene generate --seed 0 --count 3 --shape L --frames 16 --out out/rooms --topdown",
    )
    g.add_argument("--seed", type=int, default=0, help="seed of the first room; room i uses seed+i (default: 0)")
    g.add_argument("--count", type=int, default=1, help="number of rooms (default: 1)")
    g.add_argument("--shape", choices=["rect", "L", "random"], default="random",
                   help="floor shape: rect, L, or random (either, drawn from the seed) (default: random)")
    g.add_argument("--frames", type=int, default=24, help="camera frames per room (default: 24)")
    g.add_argument("--width", type=int, default=640, help="image width in pixels (default: 640)")
    g.add_argument("--height", type=int, default=480, help="image height in pixels (default: 480)")
    g.add_argument("--out", type=Path, required=True, help="output folder (required; no default)")
    g.add_argument("--topdown", action="store_true", help="also write OUT/<scene>_topdown.png (default: off)")
    g.set_defaults(func=cmd_generate)


def _add_inspect(ss: argparse._SubParsersAction) -> None:
    """``scene inspect``: its parser."""
    i = ss.add_parser(
        "inspect",
        help="summarise a scene and draw it from above",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill("Load a scene in any supported layout, print a summary (objects, labels, frames, "
                                  "floor area, bounds), optionally write a top-down PNG.", 100),
        epilog="example:\n  spatialevo scene inspect scenes/rect_small.npz --topdown out/rect_small.png",
    )
    i.add_argument("path", type=Path, help="scene folder or file (ScanNet, ScanNet++, ARKitScenes, Pointcept, box-list JSON, cache .npz)")
    i.add_argument("--json", action="store_true", help="print the summary as JSON (default: off, a text summary)")
    i.add_argument("--topdown", type=Path, default=None, help="write the top-down picture to this PNG (default: none)")
    i.add_argument("--frame-step", type=int, default=1, help="keep every k-th frame; a .sens extracts only those (default: 1)")
    add_label_options(i)
    i.set_defaults(func=cmd_inspect)


def _add_render(ss: argparse._SubParsersAction) -> None:
    """``scene render``: its parser."""
    r = ss.add_parser(
        "render",
        help="render RGB, depth and instance images of a scene's frames, and pictures of them",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=RENDER_DESCRIPTION,
        epilog="examples:\n  spatialevo scene render scenes/rect_small.npz --out out/render --every 2\n"
               "  spatialevo scene render scenes/rect_small.npz --out out/render_rc --backend raycast --frames 000000,000003",
    )
    r.add_argument("path", type=Path, help="scene folder or file with a mesh (e.g. a cache .npz)")
    r.add_argument("--out", type=Path, required=True, help="output folder (required; no default)")
    r.add_argument("--frames", default=None, help="comma-separated frame ids (default: all frames)")
    r.add_argument("--every", type=int, default=1, help="render every k-th of those frames (default: 1)")
    r.add_argument("--limit", type=int, default=None, help="render at most this many frames (default: no limit)")
    r.add_argument("--backend", choices=RENDER_BACKENDS, default=RENDER_BACKENDS[0],
                   help=f"renderer: raster (numba rasteriser) or raycast (open3d ray casting) (default: {RENDER_BACKENDS[0]})")
    r.add_argument("--no-pictures", dest="pictures", action="store_false",
                   help="write only rgb/, depth/, instance/ and visibility.json, no depth_color/, instance_color/ "
                        "or overview.png (default: off, pictures are written)")
    add_label_options(r)
    r.set_defaults(func=cmd_render)


def _add_convert(ss: argparse._SubParsersAction) -> None:
    """``scene convert``: its parser."""
    c = ss.add_parser(
        "convert",
        help="convert a collection of scans into cache files, in parallel and resumably",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=textwrap.fill(
            "Find every scene under SRC (ScanNet scans with extracted frames or a .sens, ScanNet++, ARKitScenes, Pointcept "
            "and VoteNet/mmdetection3d exports, box lists, caches; up to 4 folders deep), load each in the --labels "
            "vocabulary and write OUT/scenes/<name>.npz, frames of .sens files in OUT/frames/<name>/, and OUT/index.json "
            "(id, source layout, objects, frames, floor area per scene). Rerun the same command after a kill to finish; "
            "a rerun with other arguments into the same --out is refused. The index is what --scenes OUT of generate, "
            "evolve and eval reads.", 100
        ),
        epilog=(
            "examples:\n"
            "  spatialevo scene convert ScanNet/scans --out data/scannet --labels vsibench --frame-step 10 --workers 8\n"
            "  spatialevo scene convert ScanNet/scans --out data/scannet --labels vsibench --frame-step 10 --shard 0/4  # machine 0 of 4\n"
            "  spatialevo generate --scenes data/scannet --out out/qa"
        ),
    )
    c.add_argument("src", nargs="+", type=Path, help="scan folders or files, or folders holding them (one or more; no default)")
    c.add_argument("--out", type=Path, required=True, help="output folder (required; no default)")
    add_label_options(c)
    c.add_argument("--frame-step", type=int, default=1, help="keep every k-th frame; ScanNet records 30 per second (default: 1, all frames)")
    c.add_argument("--workers", type=int, default=1, help="scenes converted at once, one process each (default: 1)")
    c.add_argument("--shard", default="0/1", help="i/n: convert scene k when k %% n == i, for many machines (default: 0/1, everything)")
    c.add_argument("--quiet", action="store_true", help="no progress bar (default: off, show it)")
    c.set_defaults(func=cmd_convert)


def cmd_generate(args: argparse.Namespace) -> int:
    from spatialevo.scene.topdown import save_topdown
    from spatialevo.synthetic import generate_room, room_config

    if args.count < 1:
        raise SpatialEvoError("--count must be >= 1")
    args.out.mkdir(parents=True, exist_ok=True)
    for k in tqdm(range(args.count), desc="generate", unit="room", disable=args.count < 2):
        cfg = room_config(shape=args.shape, n_frames=args.frames, width=args.width, height=args.height)
        scene = generate_room(args.seed + k, cfg)
        path = scene.save(args.out / f"{scene.scene_id}.npz")
        msg = f"{path}  ({len(scene.objects)} objects, {len(scene.frames)} frames, floor {scene.floor_area:.1f} m²)"
        if args.topdown:
            msg += f"  {save_topdown(scene, args.out / f'{scene.scene_id}_topdown.png')}"
        tqdm.write(msg)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from spatialevo.scene.loaders import load_scene
    from spatialevo.scene.topdown import save_topdown

    scene = load_scene(args.path, labels=args.labels, label_map=args.label_map, frame_step=args.frame_step)
    summary = scene.summary()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"scene {summary['scene_id']} ({summary['layout']})")
        print(f"  objects: {summary['num_objects']}   frames: {summary['num_frames']}   mesh faces: {summary['mesh_faces']}")
        if summary["floor_area_m2"] is not None:
            print(f"  floor area: {summary['floor_area_m2']:.2f} m²")
        print(f"  bounds: {summary['bounds_min']} .. {summary['bounds_max']} m")
        print("  labels: " + ", ".join(f"{k} x{v}" for k, v in summary["labels"].items()))
    if args.topdown is not None:
        print(f"top-down picture: {save_topdown(scene, args.topdown)}")
    return 0


def cmd_render(args: argparse.Namespace) -> int:
    from spatialevo.scene.export import render_scene_frames
    from spatialevo.scene.loaders import load_scene

    scene = load_scene(args.path, labels=args.labels, label_map=args.label_map)
    if scene.mesh is None:
        raise SpatialEvoError(f"scene {scene.scene_id} from '{args.path}' has no mesh: nothing to render")
    if args.every < 1:
        raise SpatialEvoError("--every must be >= 1")
    frames = [scene.frame(fid) for fid in args.frames.split(",")] if args.frames else scene.frames
    frames = frames[:: args.every][: args.limit]
    if not frames:
        print(f"scene {scene.scene_id} has no frames to render", file=sys.stderr)
        return 1
    render_scene_frames(scene, args.out, frames, backend=args.backend, pictures=args.pictures)
    extra = " with depth_color/, instance_color/ and overview.png" if args.pictures else ""
    print(f"rendered {len(frames)} frames of {scene.scene_id} ({args.backend}) to {args.out}{extra}")
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from spatialevo.convert import ConvertConfig, convert
    from spatialevo.genconfig import parse_shard

    cfg = ConvertConfig(tuple(args.src), args.out, labels=args.labels, label_map=None if args.label_map is None else Path(args.label_map),
                        frame_step=args.frame_step, workers=args.workers, shard=parse_shard(args.shard))
    index = convert(cfg, progress=not args.quiet)
    n_obj = sum(s["objects"] for s in index["scenes"])
    print(f"{len(index['scenes'])} scene(s) in {args.out / 'index.json'} ({n_obj} objects); {len(index['failed'])} failed, "
          f"{len(index['pending'])} left to other shards")
    for f in index["failed"]:
        print(f"  failed {f['source']}: {f['error']}", file=sys.stderr)
    return 1 if index["failed"] else 0


def cmd_bundle(args: argparse.Namespace) -> int:
    from spatialevo.bundled import build_bundled

    problems = build_bundled(args.dir, check=args.check)
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0
