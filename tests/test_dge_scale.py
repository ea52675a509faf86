"""Large scenes: sampling and judging distance questions touches only the pairs (or one row) a
question needs, so time and memory grow linearly with the object count, never with its square."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
from scipy.spatial.transform import Rotation

from spatialevo import DGE
from spatialevo.dge.engine import make_rng
from spatialevo.dge.geometry import box_distances
from spatialevo.scene.boxes import OrientedBox
from spatialevo.scene.model import ObjectInstance, Scene


def scattered_scene(n: int, seed: int = 0) -> Scene:
    """``n`` random oriented boxes (0.1–1.5 m edges) scattered over a 60 m cube, about two per label
    (so about a quarter of the labels name one object)."""
    rng = np.random.default_rng(seed)
    C, E = rng.uniform(0, 60, (n, 3)), rng.uniform(0.1, 1.5, (n, 3))
    R = Rotation.random(n, random_state=seed + 1).as_matrix()
    labels = rng.integers(max(2, n // 2), size=n)
    return Scene(f"scattered{n}", [ObjectInstance(i, f"thing{labels[i]}", OrientedBox(C[i], E[i], R[i])) for i in range(n)])


def _sample_and_judge(scene: Scene) -> tuple[DGE, list, float, int]:
    """Build a DGE, sample and judge distance questions (one by one and batched); CPU seconds and peak traced bytes."""
    tracemalloc.start()
    try:
        t0 = time.process_time()
        dge = DGE(scene)
        qs = [dge.sample(task, make_rng(k, 0)) for task in ("absolute_distance", "relative_distance") for k in range(3)]
        verdicts = [dge.evaluate(q) for q in qs]
        assert dge.evaluate_many(qs + [q.to_json() for q in qs]) == verdicts + verdicts
        seconds = time.process_time() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return dge, list(zip(qs, verdicts)), seconds, peak


def test_distance_questions_on_3000_objects_need_memory_linear_in_the_object_count() -> None:
    n = 3000
    dge, judged, seconds, peak = _sample_and_judge(scattered_scene(n))
    assert dge.index._dist is None  # no (N, N) matrix was built
    matrix = n * n * 8
    assert peak < matrix / 2, (peak, matrix)  # the matrix alone would take 72 MB
    for q, v in judged:  # the sampled questions are valid and their distances exact
        assert v.valid, (q, v)
        i, *others = [dge.index.instances(o) for o in q.objects]
        for inst in others:
            exact = box_distances(np.full(len(inst), i[0]), np.array(inst), dge.index.centers, dge.index.extents, dge.index.rotations)
            if q.task == "absolute_distance":
                assert v.evidence["distance_m"] == float(exact[0])
            else:
                assert float(exact.min()) in v.evidence["distances_m"]
    small_peak = _sample_and_judge(scattered_scene(n // 4))[3]
    assert peak < 4 * small_peak, (peak, small_peak)  # 4x the objects: well under 16x the memory


def test_an_absolute_distance_question_computes_one_pair_not_a_row(monkeypatch) -> None:
    """On a large scene without a distance matrix, judging ``absolute_distance`` evaluates the one
    pair it asks about (one by one and batched)."""
    from spatialevo.dge import index as index_mod

    dge = DGE(scattered_scene(2000, seed=3))
    q = dge.sample("absolute_distance", make_rng(1, 0))
    sizes: list[int] = []
    real = index_mod.box_distances
    monkeypatch.setattr(index_mod, "box_distances", lambda i, j, *a, **k: sizes.append(len(i)) or real(i, j, *a, **k))
    dge.index._rows.clear()
    v = dge.evaluate(q)
    dge.clear_cache()
    assert dge.evaluate_many([q]) == [v] and v.valid
    assert sizes == [1, 1] and not dge.index._rows, sizes
