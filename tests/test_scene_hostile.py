"""Hostile input for every scene layout: mutated fixture files either load or fail with one clear error.

For each layout (cache ``.npz``, box-list JSON, ScanNet, ScanNet++, ARKitScenes) a small valid
fixture (``tests/fixtures.py``) is copied and mutated: a file read by the loader is truncated,
has bytes flipped or inserted, or (JSON, text, cache entries) has one value replaced by a hostile
one (huge / negative / NaN / inf numbers, bools, strings, nulls, nested lists / objects, wrong
shapes, deep nesting). Every outcome must be either

- a :class:`~spatialevo.errors.SpatialEvoError` whose message is one line and names a file of the
  scene (``error``), or
- a scene that loads (``loaded``); the DGE then judges the questions ``DGE.sample`` gives for every
  task and some random questions without raising, and every valid verdict's answer and evidence
  numbers are finite. Stored images are read lazily, so a corrupt image that passed the loader's
  header check may still surface as a clear error naming that image when a question reads it
  (``loaded, lazy image error``).

Budgets are fixed (``derandomize=True``): ``EXAMPLES`` examples per layout, ``SAMPLE_TRIES``
tries per sampled task, ``RANDOM_QUESTIONS`` random questions per loaded scene. The observed
outcome counts are printed at the end (``pytest -s``) and reported in ``docs/reliability.md``.
"""

from __future__ import annotations

import io
import json
import math
import re
import shutil
import tempfile
import time
import warnings
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fixtures import write_arkitscenes, write_boxlist, write_scannet, write_scannetpp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_loaders import _format_error

from spatialevo import DGE, detect_layout, load_scene
from spatialevo.dge import TASK_NAMES, NoValidQuestionError
from spatialevo.errors import SceneFormatError, SpatialEvoError, UnknownLayoutError
from spatialevo.scene.loaders import boxlist

EXAMPLES = {"cache": 100, "boxlist": 100, "scannet": 80, "scannetpp": 80, "arkitscenes": 80}
SAMPLE_TRIES = 40
RANDOM_QUESTIONS = 12
#: A load (or one DGE pass) slower than this is treated as a hang.
MAX_SECONDS = 20.0
OUTCOMES: dict[str, Counter[str]] = {k: Counter() for k in EXAMPLES}

FUZZ = settings(deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
DEEP_TEXT = '{"a":' * 1300 + "1" + "}" * 1300
DEEP = "__DEEP__"  # placeholder for JSON nested 1300 levels deep (json.dumps itself would recurse)
DELETE = "__DELETE__"
HOSTILE_SCALARS = [
    1e308, -1e308, 1e30, -1e30, 2**31, 2**63, 2**70, -(2**70), -1, -1e-9, 0, 0.0, 0.5, 3.5, 1e-300,
    math.nan, math.inf, -math.inf, True, False, None, "", "1.5", "x", "nan", DELETE, DEEP,
]
HOSTILE_VALUES = st.one_of(
    st.just(DEEP),
    st.sampled_from(HOSTILE_SCALARS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=4),
    st.sampled_from([[], {}, [[]], [1, 2], [[1, 2], [3]], [True, 1.0, 0.0], ["1", "2", "3"], {"a": 1}, [None] * 3,
                     [1e308] * 3, [[0.0] * 3] * 3, [[[[[[[[1]]]]]]]], [DEEP]]),
    st.lists(st.one_of(st.floats(), st.integers(-5, 5), st.none(), st.booleans()), max_size=17),
)
HOSTILE_TOKENS = ["nan", "inf", "-inf", "1e308", "-1e308", "1e999", "x", "", "0", "-0", "3.5", "1" * 400, "1e30", "-1", "2147483648"]


# -- mutations -------------------------------------------------------------------------------------
def _dump_json(data: Any) -> str:
    text = json.dumps(data)  # NaN / Infinity are written as Python's json reads them
    return text.replace(json.dumps(DEEP), DEEP_TEXT)


def _json_nodes(data: Any, limit: int = 4000) -> list[tuple[Any, ...]]:
    """Paths (key / index tuples) of the nodes of a JSON document, breadth first."""
    out: list[tuple[Any, ...]] = [()]
    queue: list[tuple[tuple[Any, ...], Any]] = [((), data)]
    while queue and len(out) < limit:
        path, node = queue.pop(0)
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            out.append((*path, k))
            queue.append(((*path, k), v))
    return out


def mutate_json(data: Any, node: int, value: Any, add_key: bool) -> Any:
    """``data`` with node number ``node`` (a leaf 6 times in 10) replaced by ``value`` (removed for
    ``DELETE``; a new key beside it with ``add_key``)."""
    paths = _json_nodes(data)
    leaves = [p for p in paths if p and not isinstance(_get_path(data, p), (dict, list))]
    pool = leaves if leaves and node % 10 < 6 else paths  # numbers and strings are the usual victims
    return _set_path(data, pool[(node // 10) % len(pool)], value, add_key)


def _get_path(data: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        data = data[k]
    return data


def mutate_bytes(raw: bytes, kind: str, where: float, payload: bytes) -> bytes:
    """Truncate at, flip bits at, or insert ``payload`` at the relative position ``where``."""
    i = min(int(where * len(raw)), max(len(raw) - 1, 0))
    if kind == "truncate":
        return raw[:i]
    if kind == "insert":
        return raw[:i] + payload + raw[i:]
    out = bytearray(raw)
    for k, b in enumerate(payload or b"\x01"):
        out[(i + 97 * k) % max(len(out), 1)] ^= b or 1
    return bytes(out)


def _npy_bytes(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    return buf.getvalue()


ENTRY_VARIANTS = [
    lambda a: a.astype(np.float64) + 0.5,  # fractional values in integer entries
    lambda a: a.astype(np.float64),  # integers stored as floats
    lambda a: np.full(a.shape, np.nan),
    lambda a: np.full(a.shape, 1e308),
    lambda a: np.full(a.shape, -(2**40), dtype=np.int64),
    lambda a: a.reshape(-1).copy(),  # wrong shape
    lambda a: a[:0],
    lambda a: a.astype(np.complex128),
    lambda a: a != 0,
    lambda a: a.reshape(-1).astype(str)[:3] if a.size else np.array(["x"]),
    lambda a: np.array(7),
    lambda a: np.full(a.shape, 300, dtype=np.int64),
    lambda a: np.concatenate([a.reshape(-1)] * 2) if a.size else np.ones(4),
    lambda a: np.full(a.shape, 3.5),
]


def hostile_entry(arr: np.ndarray, kind: int) -> bytes:
    """``.npy`` bytes of a hostile replacement for one cache entry (``kind == len(ENTRY_VARIANTS)``: a
    header claiming shape (10**9, 3) in front of 24 bytes)."""
    if kind < len(ENTRY_VARIANTS):
        return _npy_bytes(np.ascontiguousarray(ENTRY_VARIANTS[kind](arr)))
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 3)})
    return buf.getvalue() + b"\x00" * 24


def rewrite_cache(path: Path, replace: dict[str, bytes]) -> None:
    """Rewrite the zip at ``path`` with some members' bytes replaced (``b""`` with no payload drops one)."""
    with zipfile.ZipFile(path) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    members.update(replace)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            if data != b"DROP":
                zf.writestr(name, data)


@st.composite
def file_mutation(draw: st.DrawFn, path: Path) -> tuple[str, Any]:
    """A mutation suitable for the file ``path``."""
    kinds = ["truncate", "flip", "insert"]
    if path.suffix == ".json":
        kinds += ["json"] * 5
    elif path.suffix in (".txt", ".traj", ".pincam"):
        kinds += ["token"] * 4
    elif path.suffix == ".ply":
        kinds += ["ply"] * 3
    elif path.suffix == ".npz":
        kinds += ["entry"] * 3 + ["meta"] * 3
    kind = draw(st.sampled_from(kinds))
    if kind in ("json", "meta"):
        return kind, (draw(st.integers(0, 10**6)), draw(HOSTILE_VALUES), draw(st.booleans()))
    if kind == "token":
        return kind, (draw(st.integers(0, 10**6)), draw(st.sampled_from(HOSTILE_TOKENS)))
    if kind == "entry":
        return kind, (draw(st.integers(0, 10**6)), draw(st.integers(0, len(ENTRY_VARIANTS) + 1)))
    if kind == "ply":
        op = draw(st.sampled_from(["drop_faces", "vertex", "face"]))
        return kind, (op, draw(st.integers(0, 10**6)), draw(st.sampled_from([1e308, -1e5, 2e4, math.nan, math.inf, 0.0, -1.0, 10**6])))
    return kind, (draw(st.floats(0, 1)), draw(st.binary(min_size=1, max_size=12)))


def _json_edit(raw: bytes, select: int | tuple[Any, ...], value: Any, add_key: bool) -> str:
    """JSON text with one node replaced (``select``: a node number, leaves preferred, or an explicit path)."""
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if isinstance(select, tuple):  # explicit path
        return _dump_json(_set_path(data, select, value, add_key))
    return _dump_json(mutate_json(data, select, value, add_key))


def _set_path(data: Any, path: tuple[Any, ...], value: Any, add_key: bool) -> Any:
    if not path:
        return value
    parent = data
    for k in path[:-1]:
        parent = parent[k]
    if add_key and isinstance(parent, dict):
        parent[f"hostile_{len(path)}"] = value
    elif isinstance(value, str) and value == DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return data


def _ply_edit(path: Path, op: str, idx: int, value: float) -> None:
    """Rewrite a PLY: without its faces, with one vertex coordinate or one face index set to ``value``."""
    import trimesh

    mesh = trimesh.load(path, file_type="ply", process=False)
    verts, faces = np.array(mesh.vertices), np.array(mesh.faces)
    colors = np.asarray(mesh.visual.vertex_colors) if getattr(mesh.visual, "kind", None) == "vertex" else None
    if op == "drop_faces":
        path.write_bytes(trimesh.PointCloud(verts, colors=colors).export(file_type="ply"))
        return
    if op == "vertex":
        with np.errstate(over="ignore"):
            verts[idx % len(verts), idx % 3] = np.float32(value) if math.isfinite(value) and abs(value) < 3e38 else value
    else:
        faces[idx % len(faces), idx % 3] = int(value) if math.isfinite(value) and abs(value) < 2**31 else -1
    with warnings.catch_warnings():  # trimesh warns when exporting non-finite vertices
        warnings.simplefilter("ignore")
        path.write_bytes(trimesh.Trimesh(verts, faces, vertex_colors=colors, process=False).export(file_type="ply"))


def apply_mutation(path: Path, kind: str, arg: Any) -> None:
    """Mutate ``path`` in place."""
    raw = path.read_bytes()
    if kind == "json":
        path.write_text(_json_edit(raw, *arg))
    elif kind == "token":  # replace one whitespace-separated token, keeping the lines
        text = raw.decode("utf-8", "replace")
        spans = [m.span() for m in re.finditer(r"\S+", text)]
        if spans:
            a, b = spans[arg[0] % len(spans)]
            text = text[:a] + arg[1] + text[b:]
        path.write_text(text)
    elif kind == "ply":
        _ply_edit(path, *arg)
    elif kind == "entry":
        with zipfile.ZipFile(path) as zf:
            names = sorted(n for n in zf.namelist() if n != "meta.json.npy")
            name = arg[0] + ".npy" if isinstance(arg[0], str) else names[arg[0] % len(names)]
            arr = np.load(io.BytesIO(zf.read(name)), allow_pickle=False)
        rewrite_cache(path, {name: b"DROP" if arg[1] > len(ENTRY_VARIANTS) else hostile_entry(arr, arg[1])})
    elif kind == "meta":
        with zipfile.ZipFile(path) as zf:
            raw_meta = np.load(io.BytesIO(zf.read("meta.json.npy"))).tobytes()
        text = _json_edit(raw_meta, *arg).encode()
        rewrite_cache(path, {"meta.json.npy": _npy_bytes(np.frombuffer(text, dtype=np.uint8))})
    else:
        path.write_bytes(mutate_bytes(raw, kind, *arg))


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Path]]]:
    """Layout → (scene path, {name: file the loader reads}) of the unmutated fixtures."""
    root = tmp_path_factory.mktemp("pristine")
    sn = write_scannet(root / "scannet")
    pp = write_scannetpp(root / "scannetpp")
    ak = write_arkitscenes(root / "arkitscenes")
    bl = write_boxlist(root / "boxlist")
    cache = load_scene(sn.path).save(root / "cache" / "scene.npz")
    pincams = sorted((ak.path / f"{ak.scene_id}_frames" / "lowres_wide_intrinsics").glob("*.pincam"))
    scannet = {k: sn.files[k] for k in ("mesh", "segs", "aggregation", "txt", "pose_0", "pose_20")}
    scannet.update(intrinsic_depth=sn.path / "intrinsic" / "intrinsic_depth.txt",
                   intrinsic_color=sn.path / "intrinsic" / "intrinsic_color.txt", depth0=sn.path / "depth" / "0.png")
    scannetpp = {k: pp.files[k] for k in ("mesh", "segs", "anno", "poses")}
    scannetpp["rgb0"] = pp.path / "iphone" / "rgb" / "frame_000000.jpg"
    return {
        "scannet": (sn.path, scannet),
        "scannetpp": (pp.path, scannetpp),
        "arkitscenes": (ak.path, {"anno": ak.files["anno"], "mesh": ak.files["mesh"], "traj": ak.files["traj"],
                                  "pincam0": pincams[0], "pincam1": pincams[1]}),
        "boxlist": (bl.path, {"json": bl.path}),
        "cache": (cache, {"npz": cache}),
    }


#: Known-hostile mutations run for every layout before the random ones: (file name, mutation).
SEEDS: dict[str, list[tuple[str, tuple[str, Any]]]] = {
    "scannet": [
        ("segs", ("json", ((), DEEP, False))),
        ("aggregation", ("json", ((), DEEP, False))),
        ("aggregation", ("json", (("segGroups", 3, "objectId"), 1e30, False))),
        ("aggregation", ("json", (("segGroups", 3, "objectId"), 2**31, False))),
        ("segs", ("json", (("segIndices", 0), True, False))),
        ("segs", ("json", (("segIndices", 0), 3.5, False))),
        ("segs", ("json", (("segIndices", 0), "7", False))),
        ("mesh", ("ply", ("drop_faces", 0, 0.0))),
        ("mesh", ("ply", ("vertex", 5, -1e5))),
        ("depth0", ("truncate", (0.05, b""))),
        ("pose_0", ("token", (3, "1e308"))),
        ("intrinsic_depth", ("token", (0, "1e308"))),
        ("txt", ("token", (7, "1e30"))),
    ],
    "scannetpp": [
        ("segs", ("json", ((), DEEP, False))),
        ("anno", ("json", ((), DEEP, False))),
        ("poses", ("json", ((), DEEP, False))),
        ("anno", ("json", (("segGroups", 3, "objectId"), 1e30, False))),
        ("anno", ("json", (("segGroups", 3, "segments", 0), 2**70, False))),
        ("poses", ("json", (("frame_000000", "aligned_pose", 0, 3), 1e308, False))),
        ("poses", ("json", (("frame_000000", "intrinsic", 0, 0), 1e300, False))),
        ("poses", ("json", (("frame_000000", "intrinsic", 0, 0), True, False))),
        ("mesh", ("ply", ("drop_faces", 0, 0.0))),
        ("rgb0", ("truncate", (0.02, b""))),
    ],
    "arkitscenes": [
        ("anno", ("json", ((), DEEP, False))),
        ("anno", ("json", (("data", 0, "segments", "obb", "axesLengths", 0), 1e308, False))),
        ("anno", ("json", (("data", 0, "segments", "obb", "centroid"), [True, 0, 0], False))),
        ("anno", ("json", (("data", 1, "objectId"), 2**40, False))),
        ("anno", ("json", (("data", 1, "label"), None, False))),
        ("pincam0", ("token", (0, "1000000000"))),
        ("pincam0", ("token", (1, "192.5"))),
        ("mesh", ("ply", ("drop_faces", 0, 0.0))),
        ("traj", ("token", (4, "1e308"))),
    ],
    "boxlist": [
        ("json", ("json", ((), DEEP, False))),
        ("json", ("json", (("room_size",), 1e308, False))),
        ("json", ("json", (("room_size",), True, False))),
        ("json", ("json", (("sofa", 0, "axesLengths"), [1e308, 1, 1], False))),
        ("json", ("json", (("sofa", 0, "centroid"), [1e5, 0, 0], False))),
        ("json", ("json", (("sofa", 0, "centroid"), [True, 1.0, 0.0], False))),
        ("json", ("json", (("sofa", 0, "centroid"), ["1.5", 1.0, 0.0], False))),
        ("json", ("json", (("scene_id",), None, False))),
        ("json", ("json", (("chair", 0), DEEP, False))),
    ],
    "cache": [
        ("npz", ("meta", ((), DEEP, False))),
        ("npz", ("meta", ((), [], False))),
        ("npz", ("meta", ((), None, False))),
        ("npz", ("meta", (("meta",), [], False))),
        ("npz", ("meta", (("meta",), None, False))),
        ("npz", ("meta", (("meta", "room_size"), 1e308, False))),
        ("npz", ("meta", (("frames", 0, "id"), None, False))),
        ("npz", ("meta", (("labels", 0), 5, False))),
        ("npz", ("meta", (("scene_id",), None, False))),
        ("npz", ("entry", ("mesh_vertices", len(ENTRY_VARIANTS)))),  # header claims (10**9, 3)
        ("npz", ("entry", ("obj_ids", 1))),  # integers stored as floats
        ("npz", ("entry", ("frame_size", 0))),  # 640.5
        ("npz", ("entry", ("mesh_faces", 1))),
        ("npz", ("entry", ("mesh_vertex_colors", 11))),  # 300
        ("npz", ("entry", ("box_extents", 3))),  # 1e308
        ("npz", ("entry", ("frame_K", 7))),  # complex
        ("npz", ("entry", ("mesh_faces", len(ENTRY_VARIANTS) + 1))),  # dropped
    ],
}


def _copy(src: Path, work: Path) -> Path:
    dst = work / src.name
    if src.is_dir():
        shutil.copytree(src, dst)
    else:
        shutil.copy(src, dst)
    return dst


# -- checks ----------------------------------------------------------------------------------------
def _numbers(value: Any) -> list[float]:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, (int, float, np.integer, np.floating)):
        return [float(value)]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, (list, tuple, np.ndarray)):
        return [x for v in value for x in _numbers(v)]
    return []


def check_verdict(verdict: Any) -> None:
    if verdict.valid:
        nums = _numbers(verdict.answer) + _numbers(verdict.evidence)
        assert all(math.isfinite(x) for x in nums), (verdict.task, verdict.answer, verdict.evidence)


def random_questions(scene: Any, rng: np.random.Generator) -> list[dict[str, Any]]:
    """Random (mostly well-formed) questions about ``scene``: its labels, refs, frames and some bogus ones."""
    names = [o.label for o in scene.objects] + [o.ref for o in scene.objects] + ["nothing", "chair#99999"]
    frames = [f.id for f in scene.frames] + ["no such frame"]
    out = []
    for _ in range(RANDOM_QUESTIONS):
        task = str(rng.choice(list(TASK_NAMES)))
        objs = [str(rng.choice(names)) for _ in range(int(rng.integers(1, 5)))]
        fr = [str(rng.choice(frames)) for _ in range(int(rng.integers(0, 3)))]
        params = {"reference": int(rng.integers(1, 3))} if rng.random() < 0.3 else {}
        if rng.random() < 0.3:
            params["level"] = str(rng.choice(["easy", "medium", "hard"]))
        out.append({"task": task, "objects": objs, "frames": fr, "params": params})
    return out


def check_error(exc: SpatialEvoError, work: Path) -> None:
    msg = str(exc)
    assert "\n" not in msg and msg.strip() and len(msg) < 1000, repr(msg)
    path = getattr(exc, "path", None)
    assert path is not None and str(path) in msg, msg
    assert str(Path(path).absolute()).startswith(str(work.absolute())), (path, work)


def judge_scene(scene: Any, seed: int, work: Path) -> str:
    """Run the DGE on a loaded scene; ``loaded`` or ``loaded, lazy image error``."""
    dge = DGE(scene)
    questions = []
    try:
        for k, task in enumerate(TASK_NAMES):
            try:
                questions.append(dge.sample(task, seed + k, max_tries=SAMPLE_TRIES))
            except NoValidQuestionError:
                pass
        for q in questions + random_questions(scene, np.random.default_rng(seed)):
            check_verdict(dge.evaluate(q))
    except SpatialEvoError as exc:  # only a stored image read on demand may fail, naming the image
        check_error(exc, work)
        assert Path(exc.path).suffix.lower() in (".png", ".jpg", ".jpeg", ".npy"), str(exc)
        return "loaded, lazy image error"
    return "loaded"


def run_case(layout: str, src: Path, target: Path, mutation: tuple[str, Any], seed: int) -> str:
    """Copy the pristine scene, mutate one file, load, judge; count and return the outcome."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        dst = _copy(src, work)
        mutated = dst if src.is_file() else dst / target.relative_to(src)
        apply_mutation(mutated, *mutation)
        t0 = time.perf_counter()
        try:
            detect_layout(dst)
        except SpatialEvoError as exc:
            check_error(exc, work)
        try:
            scene = load_scene(dst, layout=layout)
        except SpatialEvoError as exc:
            check_error(exc, work)
            outcome = "error"
        else:
            outcome = judge_scene(scene, seed, work)
        assert time.perf_counter() - t0 < MAX_SECONDS, f"{layout}: {mutation[0]} of {target.name} took too long"
    OUTCOMES[layout][outcome] += 1
    return outcome


@pytest.mark.parametrize("layout", list(EXAMPLES))
def test_known_hostile_inputs(pristine: dict[str, tuple[Path, dict[str, Path]]], layout: str) -> None:
    """Hand-picked hostile values (deep nesting, huge / fractional / boolean numbers, no faces, ...)."""
    src, files = pristine[layout]
    for name, mutation in SEEDS[layout]:
        run_case(layout, src, files[name], mutation, 0)


@pytest.mark.parametrize("layout", list(EXAMPLES))
def test_hostile_scene_files(pristine: dict[str, tuple[Path, dict[str, Path]]], layout: str) -> None:
    """Random mutations of every file the layout's loader reads (fixed budget, derandomised)."""
    src, named = pristine[layout]
    files = list(named.values())

    @settings(FUZZ, max_examples=EXAMPLES[layout])
    @given(data=st.data())
    def fuzz(data: st.DataObject) -> None:
        k = data.draw(st.integers(0, len(files) - 1), label="file")
        mutation = data.draw(file_mutation(files[k]), label="mutation")
        run_case(layout, src, files[k], mutation, data.draw(st.integers(0, 2**16), label="seed"))

    fuzz()
    counts = OUTCOMES[layout]
    print(f"\n{layout} (known + random): {dict(counts)}")
    assert counts["error"] > 0 and counts["loaded"] + counts["loaded, lazy image error"] > 0, counts


# -- deep nesting, file by file -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("writer", "key", "field"),
    [
        (write_scannet, "segs", "segIndices"),
        (write_scannet, "aggregation", "segGroups"),
        (write_scannetpp, "segs", "segIndices"),
        (write_scannetpp, "anno", "segGroups"),
        (write_scannetpp, "poses", "frames"),
        (write_arkitscenes, "anno", "data"),
    ],
)
def test_deeply_nested_json_is_a_clear_error(tmp_path, writer, key, field):
    fx = writer(tmp_path)
    fx.files[key].write_text(DEEP_TEXT)
    _format_error(fx.path, fx.files[key], field, "nested 1300 levels")


def test_deeply_nested_dslr_transforms_and_boxlist_detect(tmp_path):
    fx = write_scannetpp(tmp_path, camera="dslr")
    fx.files["poses"].write_text(DEEP_TEXT)
    _format_error(fx.path, fx.files["poses"], "frames", "nested")
    deep = tmp_path / "deep.json"
    deep.write_text(DEEP_TEXT)
    assert boxlist.detect(deep) is False  # never raises
    with pytest.raises(UnknownLayoutError):
        load_scene(deep)
    with pytest.raises(SceneFormatError) as info:
        load_scene(deep, layout="boxlist")
    assert info.value.path == deep and info.value.field == "objects" and "nested 1300 levels" in str(info.value)
