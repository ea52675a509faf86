"""Real-scan preparation, measured in one run on ScanNet-sized fixtures (issue #15).

A fixture scan has ScanNet's shape: a mesh of ~``--verts`` vertices split into ``--objects``
segmented objects (yawed boxes, surface subdivided), an aggregation with raw labels, an axis alignment and a ``.sens`` of ``--frames``
frames (1296x968 JPEG colour, 640x480 zlib depth, as ScanNet records them). Measured:

1. ``.sens`` read rate: every frame header + depth decoded by ``iter_frames`` (frames/s), and
   ``extract`` (the extracted layout written, frames/s), median of ``--repeats``;
2. ``scene convert`` throughput (scenes/min) over ``--scenes`` fixture scans, ``--frame-step 10``,
   ``--labels vsibench``, with ``--workers 1`` and ``--workers 2`` (their ratio);
3. loading one scene: the scan folder cold (mesh, segments, frames; frames already extracted) vs
   its cache file, median of ``--repeats``.

    .venv/bin/python benchmarks/scan_bench.py [--frames 300] [--scenes 4] [--verts 80000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _timing import median_seconds  # noqa: E402
from fixtures import write_json, write_ply  # noqa: E402

from spatialevo.convert import ConvertConfig, convert  # noqa: E402
from spatialevo.scene.loaders import load_scene  # noqa: E402
from spatialevo.scene.loaders.sens import extract, iter_frames, write_sens  # noqa: E402

RAW = ["chair", "office chair", "couch", "table", "desk", "trashcan", "tv", "lamp", "pillow", "door", "bookshelf", "bed"]
TSV = "id\traw_category\tcategory\tcount\tnyu40id\tnyu40class\n" + "\n".join(
    f"{k + 1}\t{r}\t{c}\t1\t{n}\t{nc}" for k, (r, c, n, nc) in enumerate([
        ("chair", "chair", 5, "chair"), ("office chair", "office chair", 5, "chair"), ("couch", "couch", 6, "sofa"),
        ("table", "table", 7, "table"), ("desk", "desk", 14, "desk"), ("trashcan", "trash can", 40, "otherprop"),
        ("tv", "tv", 25, "television"), ("lamp", "lamp", 35, "lamp"), ("pillow", "pillow", 18, "pillow"),
        ("door", "door", 8, "door"), ("bookshelf", "bookshelf", 10, "bookshelf"), ("bed", "bed", 4, "bed")])) + "\n"


def scan(root: Path, sid: str, n_frames: int, n_verts: int, n_objects: int, seed: int) -> Path:
    """A ScanNet-sized scan folder with ``<sid>.sens`` (module docstring)."""
    rng = np.random.default_rng(seed)
    path = root / sid
    path.mkdir(parents=True)
    per = max(n_verts // (n_objects + 1), 8)  # vertices per object: boxes subdivided to reach the mesh size
    parts, segs, groups = [], [], []
    room = trimesh.creation.box(extents=[8.0, 6.0, 3.0])
    room.apply_translation([4.0, 3.0, 1.5])
    parts.append(room.subdivide_to_size(0.25))
    segs.append(np.zeros(len(parts[-1].vertices), dtype=np.int64))
    for k in range(n_objects):
        ext = rng.uniform(0.3, 1.5, 3)
        m = trimesh.creation.box(extents=ext)
        m = m.subdivide_to_size(float(np.sqrt(2 * (ext[0] * ext[1] + ext[1] * ext[2] + ext[0] * ext[2]) / (per / 2))))
        m.apply_transform(trimesh.transformations.rotation_matrix(rng.uniform(0, np.pi), [0, 0, 1]))
        m.apply_translation([rng.uniform(1, 7), rng.uniform(1, 5), ext[2] / 2])
        parts.append(m)
        segs.append(np.full(len(m.vertices), 10 + k, dtype=np.int64))
        groups.append({"id": k, "objectId": k, "label": RAW[k % len(RAW)], "segments": [10 + k]})
    mesh = trimesh.util.concatenate(parts)
    write_ply(path / f"{sid}_vh_clean_2.ply", np.asarray(mesh.vertices), np.asarray(mesh.faces))
    write_json(path / f"{sid}_vh_clean_2.0.010000.segs.json", {"segIndices": np.concatenate(segs).tolist()})
    write_json(path / f"{sid}.aggregation.json", {"segGroups": groups})
    (path / f"{sid}.txt").write_text("axisAlignment = " + " ".join(map(str, np.eye(4).ravel())) + "\n")
    yy, xx = np.mgrid[0:968, 0:1296]
    base = np.stack([(xx * 255 // 1295), (yy * 255 // 967), np.full_like(xx, 90)], axis=-1).astype(np.uint8)
    jpeg = Image.fromarray(base)
    import io

    buf = io.BytesIO()
    jpeg.save(buf, format="JPEG", quality=90)
    color = buf.getvalue()  # one ~100 KB JPEG reused: the read cost does not depend on the picture
    depth = (1500 + 300 * np.sin(np.mgrid[0:480, 0:640][1] / 40.0)).astype(np.uint16)
    Kc = np.array([[1170.2, 0, 647.8], [0, 1170.2, 483.8], [0, 0, 1]])
    Kd = np.array([[577.6, 0, 319.5], [0, 577.6, 239.5], [0, 0, 1]])

    def frames():
        for i in range(n_frames):
            a = 2 * np.pi * i / n_frames
            T = np.eye(4)
            fwd = np.array([np.cos(a), np.sin(a), -0.2])
            fwd /= np.linalg.norm(fwd)
            right = np.cross(fwd, [0, 0, 1.0])
            right /= np.linalg.norm(right)
            T[:3, :3] = np.stack([right, np.cross(fwd, right), fwd], axis=1)
            T[:3, 3] = [4.0, 3.0, 1.4]
            yield T, color, depth

    write_sens(path / f"{sid}.sens", frames(), K_color=Kc, K_depth=Kd, color_size=(1296, 968), depth_size=(640, 480))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300, help="frames per .sens (default 300; scene0000_00 has 5,578)")
    ap.add_argument("--scenes", type=int, default=4, help="fixture scans converted (default 4)")
    ap.add_argument("--verts", type=int, default=80000, help="mesh vertices per scan (default 80,000, as ScanNet's vh_clean_2)")
    ap.add_argument("--objects", type=int, default=40, help="objects per scan (default 40)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="scan_bench-"))
    try:
        src = tmp / "ScanNet" / "scans"
        paths = [scan(src, f"scene{k:04d}_00", args.frames, args.verts, args.objects, k) for k in range(args.scenes)]
        (tmp / "ScanNet" / "scannetv2-labels.combined.tsv").write_text(TSV)
        sens = paths[0] / f"{paths[0].name}.sens"
        out: dict = {"frames": args.frames, "sens_mb": round(sens.stat().st_size / 2**20, 1), "verts": args.verts,
                     "objects": args.objects}
        t = median_seconds(lambda: sum(1 for _ in iter_frames(sens)), args.repeats)
        out["sens_read_frames_per_s"] = round(args.frames / t, 1)

        def fresh_extract() -> None:
            shutil.rmtree(tmp / "x", ignore_errors=True)
            extract(sens, tmp / "x", step=1)

        out["sens_extract_frames_per_s"] = round(args.frames / median_seconds(fresh_extract, args.repeats), 1)
        for workers in (1, 2):
            dest = tmp / f"out{workers}"
            t0 = time.perf_counter()
            convert(ConvertConfig((tmp / "ScanNet",), dest, labels="vsibench", frame_step=10, workers=workers), progress=False)
            out[f"convert_scenes_per_min_w{workers}"] = round(60 * args.scenes / (time.perf_counter() - t0), 2)
        out["convert_ratio_w2_w1"] = round(out["convert_scenes_per_min_w2"] / out["convert_scenes_per_min_w1"], 2)
        extracted = tmp / "x"
        for name in (f"{paths[0].name}_vh_clean_2.ply", f"{paths[0].name}_vh_clean_2.0.010000.segs.json",
                     f"{paths[0].name}.aggregation.json", f"{paths[0].name}.txt"):
            shutil.copy(paths[0] / name, extracted / name)
        out["load_scan_s"] = round(median_seconds(lambda: load_scene(extracted), args.repeats), 3)
        cache = tmp / "out1" / "scenes" / f"{paths[0].name}.npz"
        out["load_cache_s"] = round(median_seconds(lambda: load_scene(cache), args.repeats), 4)
        out["load_ratio_scan_cache"] = round(out["load_scan_s"] / out["load_cache_s"], 1)
        print(json.dumps(out))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
