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
    """``import spatialevo`` loads neither the DGE nor scipy, open3d or pyarrow (the public names
    load on first use), and a distance question on a box scene loads no scipy.spatial or open3d."""
    code = (
        "import sys\n"
        "import spatialevo, gymnasium\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('scipy', 'open3d', 'pyarrow', 'trimesh', 'numba')})\n"
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
