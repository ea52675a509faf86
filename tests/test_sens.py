"""ScanNet ``.sens`` files: reader round trip, streaming, extraction to the ScanNet layout, hostile input."""

from __future__ import annotations

import io
import shutil
import struct
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest
from fixtures import EXPECTED_POSES, rigid, write_scannet
from PIL import Image

from spatialevo import load_scene
from spatialevo.errors import SceneFormatError
from spatialevo.scene.loaders import scannet, sens

K_COLOR = np.array([[58.5, 0.0, 31.75], [0.0, 58.25, 23.5], [0.0, 0.0, 1.0]])
K_DEPTH = np.array([[28.75, 0.0, 15.5], [0.0, 29.0, 11.75], [0.0, 0.0, 1.0]])
COLOR_SIZE, DEPTH_SIZE = (64, 48), (32, 24)
INVALID = 2  # index of the frame with an all -inf pose


def _jpeg(seed: int, size: tuple[int, int] = COLOR_SIZE) -> bytes:
    rgb = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def _frames(n: int = 5, depth_size: tuple[int, int] = DEPTH_SIZE) -> list[tuple]:
    """(T_wc, JPEG bytes, uint16 depth, timestamp_color, timestamp_depth) with one invalid pose."""
    out = []
    for i in range(n):
        T = np.full((4, 4), -np.inf) if i == INVALID else EXPECTED_POSES[i % 2] @ rigid(10.0 * i, [0.1 * i, 0.0, 0.0])
        depth = np.random.default_rng(100 + i).integers(0, 6000, (depth_size[1], depth_size[0]), dtype=np.uint16)
        out.append((T, _jpeg(i), depth, 1000 + 33333 * i, 1010 + 33333 * i))
    return out


def _write(path: Path, frames: list[tuple] | None = None, **kw) -> Path:
    args = {"K_color": K_COLOR, "K_depth": K_DEPTH, "color_size": COLOR_SIZE, "depth_size": DEPTH_SIZE} | kw
    return sens.write_sens(path, _frames() if frames is None else frames, **args)


def _f32(T: np.ndarray) -> np.ndarray:
    return np.asarray(T, dtype=np.float32).astype(np.float64)


# -- reader ---------------------------------------------------------------------------------------------
def test_round_trip(tmp_path):
    frames = _frames()
    p = _write(tmp_path / "scene.sens", frames, sensor_name="StructureSensor")
    h = sens.read_header(p)
    assert (h.version, h.sensor_name, h.num_frames) == (4, "StructureSensor", 5)
    assert (h.color_compression, h.depth_compression) == ("jpeg", "zlib_ushort")
    assert (h.color_size, h.depth_size, h.depth_shift) == (COLOR_SIZE, DEPTH_SIZE, 1000.0)
    np.testing.assert_array_equal(h.K_color, K_COLOR)
    np.testing.assert_array_equal(h.K_depth, K_DEPTH)
    np.testing.assert_array_equal(h.extrinsic_color, np.eye(4))
    np.testing.assert_array_equal(h.extrinsic_depth, np.eye(4))
    assert h.frames_offset == 4 + 8 + len("StructureSensor") + 4 * 64 + 2 * 4 + 4 * 4 + 4 + 8
    got = list(sens.iter_frames(p))
    assert [f.index for f in got] == list(range(5))
    for f, (T, jpg, depth, tc, td) in zip(got, frames, strict=True):
        assert f.valid == (f.index != INVALID)
        assert f.T_wc.dtype == np.float64 and f.T_wc.shape == (4, 4)
        np.testing.assert_array_equal(f.T_wc, _f32(T))  # the stored float32 values, exactly
        assert f.color_bytes == jpg
        assert f.depth.dtype == np.uint16 and f.depth.shape == (24, 32)
        np.testing.assert_array_equal(f.depth, depth)
        assert (f.timestamp_color, f.timestamp_depth) == (tc, td)


def test_step_and_start(tmp_path):
    p = _write(tmp_path / "s.sens")
    assert [f.index for f in sens.iter_frames(p, step=2)] == [0, 2, 4]
    assert [f.index for f in sens.iter_frames(p, step=2, start=1)] == [1, 3]
    assert [f.index for f in sens.iter_frames(p, step=10, start=3)] == [3]
    assert list(sens.iter_frames(p, start=5)) == []
    with pytest.raises(SceneFormatError, match="step"):
        list(sens.iter_frames(p, step=0))


def test_raw_depth_png_color(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    depth = np.arange(32 * 24, dtype=np.uint16).reshape(24, 32)
    p = _write(tmp_path / "r.sens", [(np.eye(4), rgb, depth)], color_compression="png", depth_compression="raw_ushort")
    (f,) = sens.iter_frames(p)
    np.testing.assert_array_equal(f.depth, depth)
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(f.color_bytes))), rgb)  # PNG is lossless
    sens.extract(p, tmp_path / "out")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / "color" / "0.png")), rgb)


class _Recorder:
    """A file wrapper recording the size of every ``read``."""

    def __init__(self, fh, sizes: list[int]):
        self._fh, self._sizes = fh, sizes

    def read(self, n=-1):
        data = self._fh.read(n)
        self._sizes.append(len(data))
        return data

    def __getattr__(self, name):
        return getattr(self._fh, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._fh.close()


def test_streaming_reads_one_payload_at_a_time(tmp_path, monkeypatch):
    frames = [(rigid(i, [0.01 * i, 0, 0]), _jpeg(i % 3), np.full((24, 32), i, np.uint16)) for i in range(200)]
    p = _write(tmp_path / "many.sens", frames)
    largest_payload = max(len(_jpeg(i)) for i in range(3))
    sizes: list[int] = []
    monkeypatch.setattr(sens, "open", lambda *a, **k: _Recorder(open(*a, **k), sizes), raising=False)
    assert len(list(sens.iter_frames(p, step=10))) == 20
    assert max(sizes) <= largest_payload
    assert sum(sizes) < p.stat().st_size / 5  # skipped payloads are seeked over, not read
    sizes.clear()
    assert len(list(sens.iter_frames(p))) == 200 and max(sizes) <= largest_payload


def test_streaming_memory_peak(tmp_path):
    rng = np.random.default_rng(0)
    frames = [(np.eye(4), _jpeg(0), rng.integers(0, 65535, (120, 160), dtype=np.uint16)) for _ in range(100)]
    p = _write(tmp_path / "big.sens", frames, depth_size=(160, 120), K_depth=K_DEPTH * [[5], [5], [1]])
    size, frame_bytes = p.stat().st_size, 160 * 120 * 2 + len(_jpeg(0))
    assert size > 4_000_000
    tracemalloc.start()
    try:
        n = sum(int(f.depth[0, 0] >= 0) for f in sens.iter_frames(p))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # a few frames' worth (payload, decoded depth, zlib window), never the file (~100 frames)
    assert n == 100 and peak < 8 * frame_bytes < size / 10, (peak, size)


# -- extraction -----------------------------------------------------------------------------------------
def test_extract_layout_and_rerun_is_noop(tmp_path):
    frames = _frames()
    p = _write(tmp_path / "scene.sens", frames)
    out = tmp_path / "scene0000_00"
    calls = []
    s = sens.extract(p, out, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 5) for i in range(1, 6)]
    assert (s["frames_total"], s["frames_written"], s["invalid_frames"], s["step"], s["reused"]) == (5, 5, 1, 1, False)
    assert s["color_size"] == [64, 48] and s["depth_size"] == [32, 24] and s["depth_shift"] == 1000.0
    for i, (T, jpg, depth, *_) in enumerate(frames):
        assert (out / "color" / f"{i}.jpg").read_bytes() == jpg  # verbatim
        with Image.open(out / "depth" / f"{i}.png") as im:
            np.testing.assert_array_equal(np.asarray(im), depth)
        pose = np.loadtxt(out / "pose" / f"{i}.txt")
        if i == INVALID:
            assert (pose == -np.inf).all()
        else:
            np.testing.assert_array_equal(pose.astype(np.float32), np.float32(T))
    kd = np.loadtxt(out / "intrinsic" / "intrinsic_depth.txt")
    np.testing.assert_array_equal(kd[:3, :3], K_DEPTH)
    np.testing.assert_array_equal(np.loadtxt(out / "intrinsic" / "intrinsic_color.txt")[:3, :3], K_COLOR)
    np.testing.assert_array_equal(np.loadtxt(out / "intrinsic" / "extrinsic_color.txt"), np.eye(4))
    assert (out / "intrinsic" / "extrinsic_depth.txt").is_file()
    info = dict(line.split(" = ", 1) for line in (out / "_info.txt").read_text().splitlines())
    assert info["m_versionNumber"] == "4" and info["m_sensorName"] == "StructureSensor"
    assert (info["m_colorWidth"], info["m_colorHeight"], info["m_depthWidth"], info["m_depthHeight"]) == ("64", "48", "32", "24")
    assert info["m_depthShift"] == "1000" and info["m_frames.size"] == "5"
    assert info["m_calibrationDepthIntrinsic"] == "28.75 0 15.5 0 0 29 11.75 0 0 0 1 0 0 0 0 1"
    assert info["m_calibrationColorExtrinsic"] == "1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1"
    stamp = (out / "color" / "0.jpg").stat().st_mtime_ns
    again = sens.extract(p, out, progress=lambda *a: pytest.fail("a complete extract must not be rebuilt"))
    assert again["reused"] is True and again["frames_written"] == 5
    assert (out / "color" / "0.jpg").stat().st_mtime_ns == stamp
    assert sorted(x.name for x in tmp_path.iterdir()) == ["scene.sens", "scene0000_00"]


def test_extract_rebuilds_on_other_step_or_source(tmp_path):
    p = _write(tmp_path / "scene.sens")
    out = tmp_path / "out"
    sens.extract(p, out)
    (out / "mesh.ply").write_text("kept")  # not an extract entry: survives a rebuild
    s = sens.extract(p, out, step=2)
    assert s["reused"] is False and s["frames_written"] == 3
    assert sorted(x.name for x in (out / "color").iterdir()) == ["0.jpg", "2.jpg", "4.jpg"]
    assert (out / "mesh.ply").read_text() == "kept"
    _write(p, _frames(3))  # the source changed
    s = sens.extract(p, out, step=2)
    assert s["reused"] is False and s["frames_total"] == 3 and s["frames_written"] == 2
    assert sorted(x.name for x in tmp_path.iterdir()) == ["out", "scene.sens"]


def test_extract_interrupted_leaves_nothing(tmp_path):
    p = _write(tmp_path / "scene.sens")
    out = tmp_path / "out"

    def stop(done, total):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sens.extract(p, out, progress=stop)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["scene.sens"]  # no out_dir, no partial folder
    assert sens.extract(p, out)["frames_written"] == 5
    assert len(list((out / "pose").iterdir())) == 5
    bad = tmp_path / "bad.sens"
    bad.write_bytes(p.read_bytes()[:-10])  # the last frame is cut short
    with pytest.raises(SceneFormatError, match="frame 4 depth_size_bytes"):
        sens.extract(bad, tmp_path / "bad_out")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["bad.sens", "out", "scene.sens"]


def test_scannet_loader_reads_extracted_folder(tmp_path):
    fx = write_scannet(tmp_path / "src")  # mesh, segs, aggregation and axisAlignment of a known scene
    out = tmp_path / fx.scene_id
    sens.extract(_write(tmp_path / "scene.sens"), out)
    for key in ("mesh", "segs", "aggregation", "txt"):
        shutil.copy(fx.files[key], out / fx.files[key].name)
    scene = load_scene(out)
    A = np.asarray(scene.meta["axis_alignment"])
    assert [f.id for f in scene.frames] == ["0", "1", "3", "4"] and scene.meta["skipped_frame_ids"] == [str(INVALID)]
    frames = _frames()
    for f in scene.frames:
        assert (f.width, f.height) == DEPTH_SIZE and f.rgb_path.name == f"{f.id}.jpg"
        np.testing.assert_allclose(f.depth_K, K_DEPTH)  # the loader's colour K is intrinsic_color scaled to the depth size
        np.testing.assert_allclose(f.K, scannet.scale_intrinsics(K_COLOR, COLOR_SIZE, DEPTH_SIZE))
        np.testing.assert_allclose(f.T_wc, A @ _f32(frames[int(f.id)][0]), atol=1e-5)
    assert len(scene.objects) == len(fx.objects)


# -- hostile files ----------------------------------------------------------------------------------------
NAME = "StructureSensor"
O_MATS = 12 + len(NAME)  # intrinsic_color, extrinsic_color, intrinsic_depth, extrinsic_depth
O_TYPES = O_MATS + 256  # color / depth compression, sizes, depth_shift, num_frames


def _patch(data: bytearray, offset: int, fmt: str, *values) -> None:
    data[offset : offset + struct.calcsize("<" + fmt)] = struct.pack("<" + fmt, *values)


def _frame0(data: bytes, frames_offset: int) -> tuple[int, int]:
    return struct.unpack_from("<2Q", data, frames_offset + 80)


def _corrupt_zlib(d: bytearray, f0: int) -> None:
    c, _ = _frame0(d, f0)
    d[f0 + 96 + c] ^= 0xFF  # the zlib header byte


CASES = {
    "truncated header": (lambda d, f0: d.__delitem__(slice(O_MATS + 100, None)), "extrinsic_color"),
    "truncated before num_frames": (lambda d, f0: d.__delitem__(slice(f0 - 4, None)), "num_frames"),
    "truncated frame": (lambda d, f0: d.__delitem__(slice(len(d) - 10, None)), "frame 4 depth_size_bytes"),
    "huge color_size_bytes": (lambda d, f0: _patch(d, f0 + 80, "Q", 2**62), "frame 0 color_size_bytes"),
    "huge depth_size_bytes": (lambda d, f0: _patch(d, f0 + 88, "Q", 2**63), "frame 0 depth_size_bytes"),
    "huge num_frames": (lambda d, f0: _patch(d, f0 - 8, "Q", 2**60), "num_frames"),
    "bad version": (lambda d, f0: _patch(d, 0, "I", 3), "version"),
    "huge sensor name": (lambda d, f0: _patch(d, 4, "Q", 2**40), "sensor_name"),
    "unknown depth compression": (lambda d, f0: _patch(d, O_TYPES + 4, "i", -1), "depth_compression_type"),
    "occi depth": (lambda d, f0: _patch(d, O_TYPES + 4, "i", 2), "depth_compression_type"),
    "unknown color compression": (lambda d, f0: _patch(d, O_TYPES, "i", 7), "color_compression_type"),
    "huge image": (lambda d, f0: _patch(d, O_TYPES + 8, "I", 10**6), "color_width"),
    "zero fx": (lambda d, f0: _patch(d, O_MATS, "f", 0.0), "intrinsic_color"),
    "nan depth_shift": (lambda d, f0: _patch(d, f0 - 12, "f", float("nan")), "depth_shift"),
    "corrupt zlib": (_corrupt_zlib, "frame 0 depth"),
    "zlib larger than the image": (lambda d, f0: _patch(d, O_TYPES + 16, "I", 16), "frame 0 depth"),
    "zlib smaller than the image": (lambda d, f0: _patch(d, O_TYPES + 16, "I", 64), "frame 0 depth"),
    "not a jpeg": (lambda d, f0: _patch(d, f0 + 96, "B", 0), "frame 0 color"),
    "non-rigid pose": (lambda d, f0: _patch(d, f0, "f", 3.0), "frame 0 camera_to_world"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_file_names_file_and_field(tmp_path, case):
    p = _write(tmp_path / "ok.sens")
    data = bytearray(p.read_bytes())
    f0 = sens.read_header(p).frames_offset
    mutate, field = CASES[case]
    mutate(data, f0)
    bad = tmp_path / "bad.sens"
    bad.write_bytes(bytes(data))
    with pytest.raises(SceneFormatError) as info:
        list(sens.iter_frames(bad))
    assert info.value.field == field and info.value.path == bad
    msg = str(info.value)
    assert str(bad) in msg and f"field '{field}'" in msg and "\n" not in msg


def test_zlib_bomb_is_bounded(tmp_path):
    """A depth stream claiming far more output than the image is refused after at most one image of output."""
    p = _write(tmp_path / "ok.sens", [(np.eye(4), _jpeg(0), np.zeros((24, 32), np.uint16))])
    data = bytearray(p.read_bytes())
    f0 = sens.read_header(p).frames_offset
    bomb = zlib.compress(bytes(50_000_000), 9)  # ~50 kB that inflate to 50 MB
    c, d = _frame0(data, f0)
    _patch(data, f0 + 88, "Q", len(bomb))
    data[f0 + 96 + c : f0 + 96 + c + d] = bomb
    bad = tmp_path / "bomb.sens"
    bad.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        with pytest.raises(SceneFormatError, match="decompresses to more than") as info:
            list(sens.iter_frames(bad))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert info.value.field == "frame 0 depth" and peak < 5_000_000
