"""The DGE never imports torch or transformers (the training side imports the DGE, not the reverse)."""

from __future__ import annotations

import subprocess
import sys


def test_dge_imports_no_torch_or_transformers() -> None:
    code = (
        "import sys\n"
        "import spatialevo, spatialevo.dge, spatialevo.dge.engine, spatialevo.dge.tasks, spatialevo.dge.floor\n"
        "import importlib.util\n"
        "for name in ('spatialevo.dge.scoring', 'spatialevo.dge.language'):\n"
        "    if importlib.util.find_spec(name) is not None:\n"
        "        __import__(name)\n"
        "from spatialevo import DGE, Question, load_scene\n"
        "from spatialevo.bundled import bundled_scene_paths\n"
        "d = DGE(load_scene(bundled_scene_paths()[0]))\n"
        "assert d.evaluate(Question('room_size')).valid\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers', 'trl', 'accelerate'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"the DGE imported {out.stdout.strip()}"


def test_import_spatialevo_is_light_and_its_names_load_on_use() -> None:
    """``import spatialevo`` loads neither the DGE nor numpy, scipy, open3d, pyarrow or gymnasium
    (the public names load on first use; ``SpatialEvo-v0`` is registered when gymnasium is
    imported, after the package here), and a distance question on a box scene loads no scipy.spatial or open3d."""
    code = (
        "import sys\n"
        "import spatialevo\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('scipy', 'open3d', 'pyarrow', 'trimesh', 'numba', 'gymnasium', 'numpy')})\n"
        "import gymnasium\n"
        "dge_loaded = 'spatialevo.dge' in sys.modules\n"
        "assert 'SpatialEvo-v0' in gymnasium.registry\n"
        "from spatialevo import DGE, Question, Scene, ObjectInstance, OrientedBox\n"
        "s = Scene('s', [ObjectInstance(1, 'a', OrientedBox([0, 0, 0], [1, 1, 1])), ObjectInstance(2, 'b', OrientedBox([3, 0, 0], [1, 1, 1]))])\n"
        "assert DGE(s).evaluate(Question('absolute_distance', ('a', 'b'))).answer == 2.0\n"
        "late = sorted(m for m in sys.modules if m.startswith(('scipy.spatial', 'open3d')))\n"
        "print(heavy, dge_loaded, late)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[] False []", out.stdout


def test_env_registered_in_either_import_order() -> None:
    """``SpatialEvo-v0`` is registered (once) whether gymnasium is imported before or after the
    package, and gymnasium's module keeps its own loader."""
    orders = (("spatialevo", "gymnasium"), ("gymnasium", "spatialevo"), ("spatialevo", "importlib.util"))  # the last: a lookup first
    for first, second in orders:
        code = (
            f"import {first}, {second}, importlib, importlib.util, sys\n"
            "assert importlib.util.find_spec('gymnasium') is not None\n"  # an availability check must not disarm the hook
            "import gymnasium\n"
            "assert 'SpatialEvo-v0' in gymnasium.registry\n"
            "assert gymnasium.registry['SpatialEvo-v0'].entry_point == 'spatialevo.env:SpatialEvoEnv'\n"
            "assert type(gymnasium.__spec__.loader).__name__ == 'SourceFileLoader', gymnasium.__spec__.loader\n"
            "assert sum(type(f).__name__ == '_RegisterWithGymnasium' for f in sys.meta_path) <= 1\n"
            "importlib.reload(sys.modules['spatialevo'])\n"
            "assert list(gymnasium.registry).count('SpatialEvo-v0') == 1\n"
        )
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, (first, out.stderr)


def test_dataset_tables_are_built_without_pandas() -> None:
    """The Parquet writer's tables (every column type, nulls at each level) equal
    ``pa.Table.from_pylist``'s, built without importing pandas (which ``pa.array`` on lists does)."""
    code = (
        "import sys\n"
        "from spatialevo.hfdata.features import arrow_schema, arrow_table\n"
        "cols = {'s': 'string', 'i': 'int64', 'f': 'float64', 'b': 'bool', 'l': ['string'],\n"
        "        'r': {'x': 'int64', 'y': ['float64']}, 'images': ['image']}\n"
        "rows = [{'s': 'é', 'i': 3, 'f': 1.5, 'b': True, 'l': ['a', None], 'r': {'x': None, 'y': [1.0]},\n"
        "         'images': [{'bytes': b'\\x00\\x01', 'path': 'a.png'}]},\n"
        "        {'s': None, 'i': None, 'f': None, 'b': None, 'l': None, 'r': None, 'images': []},\n"
        "        {'s': '', 'i': -2**63, 'f': -0.5, 'b': False, 'l': [], 'r': {'x': 7, 'y': None},\n"
        "         'images': [None, {'bytes': None, 'path': None}]}]\n"
        "schema = arrow_schema(cols)\n"
        "t = arrow_table(rows, cols, schema)\n"
        "t.validate(full=True)\n"
        "assert 'pandas' not in sys.modules\n"
        "import pyarrow as pa\n"
        "assert t.equals(pa.Table.from_pylist(rows, schema=schema), check_metadata=True)\n"
        "assert t.to_pylist() == rows, t.to_pylist()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr


def test_generate_imports_no_open3d_pandas_or_gymnasium(tmp_path) -> None:
    """A whole ``spatialevo generate`` run (bundled scenes, images and Parquet shards written)
    imports neither open3d (visibility uses the package's own exact ray casts), pandas,
    gymnasium nor scipy.spatial."""
    code = (
        "import sys\n"
        "from spatialevo.cli.main import main\n"
        f"assert main(['generate', '--out', {str(tmp_path / 'g')!r}, '--per-task', '1', '--quiet']) == 0\n"
        "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('open3d', 'pandas', 'gymnasium', 'scipy.spatial'))}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout
    assert (tmp_path / "g" / "data.jsonl").stat().st_size > 0 and any((tmp_path / "g" / "data").glob("*.parquet"))
