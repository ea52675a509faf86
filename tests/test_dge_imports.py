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
