"""Task 4 — relative_distance (scene): which candidate category is closest to the anchor object."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from spatialevo.dge.index import WARM_MAX_OBJECTS, SceneIndex
from spatialevo.dge.question import Question
from spatialevo.dge.tasks.base import Resolved, Task, pick, randint, unique_labels
from spatialevo.dge.verdict import Reason, Verdict


@dataclass(frozen=True)
class RelativeDistanceConfig:
    """Attributes:
    tie_margin_m: the closest candidate must be closer than the runner-up by at least this, else ``near_tie``.
    """

    tie_margin_m: float = 0.15


class RelativeDistance(Task):
    """``objects`` = [anchor, candidate, candidate, …] (2–4 candidates). Answer: the candidate label.

    The anchor must be unique; a candidate category with several instances counts its nearest
    instance. Distances are closest-point distances between solid boxes.
    """

    name = "relative_distance"
    scope = "scene"
    answer_kind = "choice"
    n_objects = (3, 5)
    symmetric = slice(1, None)  # the candidates
    label_rule = "nearest"
    config_cls = RelativeDistanceConfig

    def options_for(self, q: Question, r: Resolved) -> tuple[str, ...]:
        return tuple(r.labels[1:])

    def check(self, index: SceneIndex, q: Question, r: Resolved) -> Verdict:
        a = r.objects[0][0]
        if index.row_is_cheap(a):  # a label's distance is its minimum over the anchor's row, kept per label
            mins, row, pos = index.category_min(a), index.distance_row(a), index.label_order()[2]
            dists = np.array([mins[pos[lab]] if lab in pos else row[inst[0]] for lab, inst in zip(r.labels[1:], r.objects[1:])])
        else:  # a large scene: only the pairs of the candidates' instances
            dists = np.array([index.distances_from(a, inst).min() for inst in r.objects[1:]])
        order = np.argsort(dists, kind="stable")
        best, second = int(order[0]), int(order[1])
        return self._verdict_of(q, r, dists.tolist(), best, second, bool(dists[second] - dists[best] < self.config.tie_margin_m))

    def check_many(self, index: SceneIndex, qs: Sequence[Question], rs: Sequence[Resolved]) -> list[Verdict]:
        """:meth:`check` of many questions in one pass: each candidate's distance read from its
        anchor's per-label minimums (:meth:`SceneIndex.category_min`, the same floats as the row's
        minimum over the instances) or, for an instance reference, the anchor's row; then one stable
        argsort of the (Q, 4) distances, NaN-padded (NaN sorts after every distance). A large scene
        without its distance matrix judges each question alone (:meth:`check`: only the pairs it needs)."""
        if index._dist is None and len(index.labels) > WARM_MAX_OBJECTS:
            return super().check_many(index, qs, rs)
        _, _, label_pos = index.label_order()
        n_labels, n = len(label_pos), len(index.labels)
        pad = n_labels + n  # the NaN column
        anchors = [r.objects[0][0] for r in rs]
        cols = np.full((len(rs), 4), pad, dtype=np.int64)
        for k, r in enumerate(rs):
            for c, (lab, inst) in enumerate(zip(r.labels[1:], r.objects[1:])):
                p = label_pos.get(lab)
                cols[k, c] = p if p is not None else n_labels + inst[0]  # a label (all its instances) or one instance
        dists = np.empty(cols.shape)
        by_anchor: dict[int, list[int]] = {}
        for k, a in enumerate(anchors):
            by_anchor.setdefault(a, []).append(k)
        for a, ks in by_anchor.items():
            ext = np.concatenate([index.category_min(a), index.distance_row(a), [np.nan]])
            dists[ks] = ext[cols[ks]]
        order = np.argsort(dists, axis=1, kind="stable")
        rows = np.arange(len(rs))
        best, second = order[:, 0], order[:, 1]
        tie = (dists[rows, second] - dists[rows, best]) < self.config.tie_margin_m
        return [self._verdict_of(q, r, d[: len(r.objects) - 1], b, s, t)
                for q, r, d, b, s, t in zip(qs, rs, dists.tolist(), best.tolist(), second.tolist(), tie.tolist())]

    def _verdict_of(self, q: Question, r: Resolved, dists: list[float], best: int, second: int, tie: bool) -> Verdict:
        """The verdict of the candidates' distances ``dists`` (metres, option order), the closest
        and the runner-up (positions in ``dists``) and whether they are within the tie margin."""
        ev = {"distances_m": dists}  # per candidate, in the order of the options
        options = self.options_for(q, r)
        if tie:
            return self.bad(
                Reason.NEAR_TIE,
                f"the {options[best]} ({dists[best]:.2f} m) and the {options[second]} ({dists[second]:.2f} m) are about as close to the {r.labels[0]}",
                ev,
            )
        return self.ok(options[best], options[best], ev, options)

    def candidates(self, index: SceneIndex) -> Iterator[Question]:
        """Per anchor (a label with one instance): the nearest and the farthest other category. That
        pair has the anchor's largest distance gap, so it is valid whenever any question about the
        anchor is (a valid question's best and runner-up candidates form a valid pair)."""
        for anchor in unique_labels(index):
            a = index.by_label[anchor][0]
            others = [lab for lab in index.label_list if lab != anchor]
            if len(others) < 2:
                continue
            row = index.distance_row(a)
            d = np.array([row[index.by_label[lab]].min() for lab in others])
            near, far = int(np.argmin(d)), int(np.argmax(d))
            if near != far:
                yield Question(self.name, (anchor, others[near], others[far]))

    def draw(self, index: SceneIndex, rng: np.random.Generator) -> Question:
        labels = index.label_list
        k = 2 + randint(rng, 3)
        k = max(1, min(k, len(labels) - 1))
        return Question.trusted(self.name, tuple(pick(rng, labels, k + 1)) if len(labels) >= 2 else tuple(labels))
