"""Pictures of rendered frames (spatialevo.scene.pictures), what ``scene render`` writes, the help
texts of the ``scene`` subcommands, and the docs pictures being up to date."""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from spatialevo import load_scene
from spatialevo.bundled import bundled_scene_paths
from spatialevo.cli.main import build_parser, main
from spatialevo.scene.drawing import NO_VALUE_COLOR
from spatialevo.scene.pictures import (
    DEPTH_PALETTE,
    LEVELS,
    colorbar_indices,
    depth_picture,
    depth_range,
    frame_sheet,
    instance_colors,
    instance_picture,
)
from spatialevo.scene.render import BACKENDS, render_frame

ROOT = Path(__file__).resolve().parents[1]
SCENE_COMMANDS = ("generate", "inspect", "render", "convert", "bundle")


@pytest.fixture(scope="module")
def small():
    return load_scene(next(p for p in bundled_scene_paths() if p.stem == "rect_small"))


@pytest.fixture(scope="module")
def frame_images(small):
    return render_frame(small, small.frames[3])


def rgb(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"))


def test_depth_picture_size_bar_and_no_value(frame_images):
    depth = frame_images["depth"].copy()
    depth[:20, :30] = 0.0  # a no-hit patch
    h, w = depth.shape
    pic = depth_picture(depth)
    assert pic.height == h and pic.width > w + 30
    assert depth_picture(depth, colorbar=False).size == (w, h)
    px = rgb(pic)
    assert (px[:20, :30] == NO_VALUE_COLOR).all()
    strip = px[:, w:]  # the colour bar: a column of many viridis colours, far (yellow) on top
    column = next(strip[:, c] for c in range(strip.shape[1]) if len({tuple(v) for v in strip[:, c]}) > 100)
    col_idx = {tuple(c): k for k, c in enumerate(DEPTH_PALETTE[:LEVELS])}
    levels = [col_idx[tuple(v)] for v in column if tuple(v) in col_idx]
    assert len(set(levels)) > 100 and levels[0] > levels[-1]
    # tick labels: dark text pixels right of the bar
    assert (strip.max(axis=2) < 80).sum() > 50


def test_depth_picture_follows_the_input(frame_images):
    depth = frame_images["depth"]
    a, b = rgb(depth_picture(depth)), rgb(depth_picture(depth * 1.5))
    w = depth.shape[1]
    assert a.shape[0] == b.shape[0] and (a[:, :w] != b[:, :w]).any()
    assert a.shape != b.shape or (a[:, w:] != b[:, w:]).any(), "the colour bar's labels follow the range"
    assert (a[:, :w] != rgb(depth_picture(depth[::-1]))[:, :w]).any()
    fixed = rgb(depth_picture(depth, vmin=0.0, vmax=5.0, colorbar=False))
    near = depth < 1.0
    assert near.any() and fixed[near].mean() < fixed[~near & (depth > 3.5)].mean()  # near dark, far bright
    lo, hi = depth_range(depth)
    valid = depth[depth > 0]
    assert lo <= np.percentile(valid, 5) and hi >= np.percentile(valid, 95) and hi - lo >= 0.1
    assert depth_range(np.zeros((4, 4))) == (0.0, 1.0)
    with pytest.raises(ValueError):
        depth_picture(depth, vmin=2.0, vmax=1.0)


def test_colorbar_ticks_are_labelled_in_metres():
    bar = colorbar_indices(480, 0.5, 3.5)
    assert bar.shape[0] == 480 and 30 < bar.shape[1] < 120
    assert len(np.unique(bar)) > 100
    assert not np.array_equal(bar, colorbar_indices(480, 0.5, 7.5)[:, : bar.shape[1]])


def test_instance_picture_colours(small, frame_images):
    inst = frame_images["instance"]
    pic = instance_picture(inst, small)
    assert pic.size == (inst.shape[1], inst.shape[0])
    px = rgb(pic)
    values = np.unique(inst)
    colours = {tuple(px[inst == v][0]) for v in values}
    assert len(colours) == len(values), "every value its own colour"
    for v in values:
        assert (px[inst == v] == px[inst == v][0]).all()
    # two objects of one label differ; structure codes are greys, -1 black
    label = next(lab for lab, n in small.labels().items() if n >= 2)
    a, b = (o.id for o in small.objects_with_label(label)[:2])
    ca, cb, floor, wall, ceiling, none = instance_colors(np.array([a, b, -2, -4, -3, -1]), small)
    assert tuple(ca) != tuple(cb)
    for g in (floor, wall, ceiling):
        assert g[0] == g[1] == g[2]
    assert tuple(none) == (0, 0, 0) and len({tuple(floor), tuple(wall), tuple(ceiling)}) == 3
    over = rgb(instance_picture(inst, small, rgb=frame_images["rgb"], labels=True))
    assert over.shape == px.shape and (over != px).any()
    assert (over != frame_images["rgb"]).any()


def test_instance_picture_many_ids_and_large_ids():
    inst = np.arange(40 * 40, dtype=np.int32).reshape(40, 40)  # 1600 values: more than a palette holds
    inst[0, 0] = 2_000_000_000
    px = rgb(instance_picture(inst))
    assert px.shape == (40, 40, 3) and len(np.unique(px.reshape(-1, 3), axis=0)) > 1000


def test_frame_sheet_size_and_content(small):
    other = load_scene(next(p for p in bundled_scene_paths() if p.stem == "l_shaped"))
    a = frame_sheet(small, small.frames[:4], thumb=80, columns=2)
    b = frame_sheet(other, other.frames[:4], thumb=80, columns=2)
    assert a.mode == "RGB" and a.height == b.height  # widths differ by the colour bar's labels
    assert 2 * 3 * 80 < a.width < 2 * 3 * 80 + 140 and 2 * 60 < a.height < 2 * 60 + 120
    w = min(a.width, b.width)
    assert (rgb(a)[:, :w] != rgb(b)[:, :w]).any()
    one = frame_sheet(small, small.frames[:4], kinds=("rgb",), thumb=80, columns=4)
    assert one.width < a.width
    capped = frame_sheet(small, thumb=40, max_frames=5, columns=5)
    assert capped.width < frame_sheet(small, thumb=40, columns=12).width
    with pytest.raises(ValueError):
        frame_sheet(small, kinds=("normals",))


@pytest.mark.parametrize("backend", BACKENDS)
def test_scene_render_writes_pictures(tmp_path, backend):
    scene_path = next(p for p in bundled_scene_paths() if p.stem == "rect_small")
    out = tmp_path / backend
    assert main(["scene", "render", str(scene_path), "--out", str(out), "--limit", "3", "--backend", backend]) == 0
    scene = load_scene(scene_path)
    ids = [f.id for f in scene.frames[:3]]
    w, h = scene.frames[0].width, scene.frames[0].height
    for fid in ids:
        assert Image.open(out / "rgb" / f"{fid}.png").size == (w, h)
        assert np.load(out / "instance" / f"{fid}.npy").shape == (h, w)
        dc = Image.open(out / "depth_color" / f"{fid}.png")
        assert dc.height == h and dc.width > w
        ic = Image.open(out / "instance_color" / f"{fid}.png")
        assert ic.size == (w, h) and len(np.unique(rgb(ic).reshape(-1, 3), axis=0)) >= 2
    pics = [rgb(Image.open(out / "depth_color" / f"{fid}.png"))[:, :w] for fid in ids]
    assert any((pics[0] != p).any() for p in pics[1:])
    masks = np.concatenate([rgb(Image.open(out / "instance_color" / f"{fid}.png")).reshape(-1, 3) for fid in ids])
    assert len(np.unique(masks, axis=0)) > 3
    sheet = Image.open(out / "overview.png")
    assert sheet.width >= 3 * 160 + 40 and sheet.height > 120  # at least one cell of three 160-pixel thumbnails and the bar
    assert len(np.unique(rgb(sheet).reshape(-1, 3), axis=0)) > 500
    assert not list(out.rglob("*.tmp"))


def test_scene_render_no_pictures(tmp_path):
    scene_path = next(p for p in bundled_scene_paths() if p.stem == "rect_small")
    assert main(["scene", "render", str(scene_path), "--out", str(tmp_path), "--limit", "1", "--no-pictures"]) == 0
    assert (tmp_path / "rgb").is_dir() and (tmp_path / "visibility.json").is_file()
    assert not (tmp_path / "depth_color").exists() and not (tmp_path / "overview.png").exists()


def _subparser(*names: str) -> argparse.ArgumentParser:
    p = build_parser()
    for n in names:
        p = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices[n]
    return p


@pytest.mark.parametrize("cmd", SCENE_COMMANDS)
def test_scene_help_shows_defaults_in_plain_text(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["scene", cmd, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "default" in out and "`" not in out and ":mod:" not in out
    for action in _subparser("scene", cmd)._actions:
        if action.option_strings and action.help != argparse.SUPPRESS and "-h" not in action.option_strings:
            assert "default" in action.help, f"scene {cmd} {action.option_strings[0]}: help shows no default"


def test_render_help_names_the_real_default_backend_and_outputs(capsys):
    with pytest.raises(SystemExit):
        main(["scene", "render", "--help"])
    out = capsys.readouterr().out
    assert f"(default: {BACKENDS[0]})" in out and "--backend" in out and "rasteriser" in out
    for name in ("rgb/", "depth/", "instance/", "depth_color/", "instance_color/", "overview.png", "visibility.json"):
        assert name in out
    from spatialevo.cli.scene import RENDER_BACKENDS

    assert RENDER_BACKENDS == BACKENDS


def _docs_script():
    spec = importlib.util.spec_from_file_location("make_render_pictures", ROOT / "docs" / "make_render_pictures.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_docs_pictures_are_up_to_date_and_the_check_can_fail(tmp_path, capsys):
    mod = _docs_script()
    assert mod.main(["--check"]) == 0, capsys.readouterr().err
    docs = (ROOT / "docs" / "rendering.md").read_text()
    for pic in mod.PICTURES:
        assert f"images/rendering/{pic.name}" in docs, f"docs/rendering.md does not show {pic.name}"
    shutil.copytree(mod.IMAGES, tmp_path / "pics")
    victim = tmp_path / "pics" / mod.PICTURES[0].name
    img = rgb(Image.open(victim)).copy()
    img[: img.shape[0] // 3] = 255 - img[: img.shape[0] // 3]
    Image.fromarray(img).save(victim)
    (tmp_path / "pics" / mod.PICTURES[-1].name).unlink()
    assert mod.main(["--check", "--dir", str(tmp_path / "pics")]) == 1
    err = capsys.readouterr().err
    assert "out of date" in err and "missing" in err


def test_sheet_of_frames_whose_depth_is_smaller_than_their_rgb(tmp_path) -> None:
    """Scans store depth at their own resolution (ScanNet++ iPhone: 256x192 beside 1920x1440 RGB):
    every kind is sampled on its own grid, the whole depth image reaches the thumbnail."""
    import dataclasses

    from spatialevo.scene.pictures import SheetBuilder

    scene = load_scene(bundled_scene_paths()[0])
    img = scene.frame_images(scene.frames[0])
    half = {"rgb": img["rgb"], "depth": np.ascontiguousarray(img["depth"][::2, ::2])}
    b = SheetBuilder(dataclasses.replace(scene, mesh=None), kinds=("rgb", "depth"), thumb=64)
    b.add("a", half)
    b.add("b", {"rgb": img["rgb"], "depth": img["depth"]})
    (_, small), (_, full) = b.cells
    assert small["depth"].shape == full["depth"].shape == small["rgb"].shape[:2]
    assert np.median(np.abs(small["depth"] - full["depth"])) < 0.05  # the same view (edges aside), not its top-left quarter
    assert b.image().size[0] > 0
