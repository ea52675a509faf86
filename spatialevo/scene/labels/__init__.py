"""Label vocabularies: the category names a scene's objects are asked about.

A scan's annotation labels are free text (ScanNet ``couch``, ``trashcan``, ``office chair``).
Public benchmarks ask in a fixed vocabulary (VSI-Bench: ``sofa``, ``trash bin``, ``chair``). A
scene is loaded in one vocabulary (``load_scene(path, labels=...)``):

- ``raw``: the labels as the source writes them (normalised: lower case, ``_`` → space).
- ``nyu40``: the 40 NYU classes (``nyu40.tsv``).
- ``scannet200``: the ScanNet200 benchmark's 200 categories (``scannet200.tsv``).
- ``vsibench``: the categories VSI-Bench asks about, per source dataset (``vsibench.tsv``).

How a label is mapped (:meth:`LabelMap.map`), in this order:

1. ScanNet scans (layout ``scannet``): the user's ``scannetv2-labels.combined.tsv`` (shipped with
   every ScanNet download, never downloaded by the package) turns a raw label it lists into the
   ScanNet ``category`` (``trashcan`` → ``trash can``, then steps 2-3), its ``nyu40class`` for
   ``nyu40``, and its ``id`` for ``scannet200`` (an id of the ScanNet200 table, else unmapped); a
   raw label it does not list goes on to steps 2-3 as it is.
2. The vocabulary's table for the scene's dataset (``<vocabulary>-<dataset>.map.tsv``: label →
   category, e.g. ``couch`` → ``sofa`` for VSI-Bench on ScanNet).
3. A label that is itself a category of the vocabulary maps to itself.
4. Anything else is *unmapped*: :func:`relabel` removes the object from ``scene.objects`` (so no
   question can name or count it), keeps its surface as unlabelled structure (its mesh faces get
   ``NO_HIT``: they still occlude), and lists it in ``scene.meta["unmapped_objects"]``.

Tables are tab-separated text in this folder, ``#`` lines are comments that state the source
(see ``SOURCES.md`` and ``docs/scenes.md``, "Label vocabularies", for how to add one).
"""

from __future__ import annotations

import csv
import dataclasses
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from spatialevo.errors import SceneFileNotFoundError, SceneFormatError, SpatialEvoError
from spatialevo.scene.model import NO_HIT, Scene, SceneMesh, normalize_label

_DIR = Path(__file__).resolve().parent
#: vocabularies :func:`load_scene` accepts (``raw`` keeps the source's labels)
VOCABULARIES = ("raw", "nyu40", "scannet200", "vsibench")
#: source datasets a vocabulary may have its own categories and tables for
DATASETS = ("scannet", "scannetpp", "arkitscenes")
#: scene layout → source dataset (layouts that are not listed have no dataset: every table applies)
LAYOUT_DATASET = {"scannet": "scannet", "pointcept": "scannet", "votenet": "scannet", "scannetpp": "scannetpp",
                  "arkitscenes": "arkitscenes"}
#: class tables: index → category (the class indices point-cloud exports store)
CLASS_TABLES = ("nyu40", "scannet20", "scannet200", "scannetpp")
#: the label table ScanNet ships with its downloads
SCANNET_TSV = "scannetv2-labels.combined.tsv"
#: folders above a scan searched for :data:`SCANNET_TSV` (the scan's own folder first)
TSV_SEARCH_DEPTH = 3
#: largest label table read (a ScanNet tsv is ~90 KB)
MAX_TABLE_BYTES = 16 << 20


def _read_tsv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str]]:
    """Rows of a tab-separated table with a header line (``#`` lines skipped), the named columns
    required; a missing column or file names the file."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise SceneFileNotFoundError(path, field="label table") from None
    if size > MAX_TABLE_BYTES:
        raise SceneFormatError(f"label table is {size:,} bytes (at most {MAX_TABLE_BYTES:,})", path=path, field="label table")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SceneFormatError(f"cannot read the label table: {exc}", path=path, field="label table") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise SceneFormatError("the label table is empty", path=path, field="label table")
    reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise SceneFormatError(f"missing column(s) {missing}; columns: {reader.fieldnames}", path=path, field="header")
    rows = []
    for k, row in enumerate(reader, start=2):
        if any(row.get(c) is None for c in columns):
            raise SceneFormatError(f"row {k} has fewer fields than the header", path=path, field=f"row {k}")
        rows.append({c: row[c].strip() for c in row if c is not None and row[c] is not None})
    return rows


def _table(name: str) -> Path:
    return _DIR / name


@cache
def _class_table(vocabulary: str) -> tuple[tuple[int, str], ...]:
    """``(id, category)`` rows of a class table, in table order (read once)."""
    if vocabulary not in CLASS_TABLES:
        raise SpatialEvoError(f"no class table {vocabulary!r} (tables: {', '.join(CLASS_TABLES)})")
    rows = _read_tsv(_table(f"{vocabulary}.tsv"), ("id", "category"))
    return tuple((int(r["id"]), normalize_label(r["category"])) for r in rows)


def category_names(vocabulary: str) -> list[str]:
    """Category names of a class table in table order: ``nyu40`` (index i is NYU id i + 1),
    ``scannet20`` and ``scannet200`` (index = the value Pointcept's ``segment20/200.npy`` stores),
    ``scannetpp`` (ScanNet++'s top-100 semantic classes: Pointcept's ScanNet++ ``segment.npy``).

    Raises:
        SpatialEvoError: an unknown table name.
    """
    return [name for _, name in _class_table(vocabulary)]


@cache
def category_ids(vocabulary: str) -> dict[int, str]:
    """``id`` column → category of a class table (``nyu40``: NYU ids; ``scannet20``: NYU ids;
    ``scannet200``: ScanNet raw-category ids, the ``id`` column of ScanNet's tsv)."""
    return dict(_class_table(vocabulary))


@cache
def categories(vocabulary: str, dataset: str | None = None) -> frozenset[str]:
    """The categories of ``vocabulary`` (for ``vsibench``: those asked on ``dataset``; every
    dataset's when ``dataset`` is ``None``)."""
    check_vocabulary(vocabulary)
    if vocabulary == "raw":
        raise SpatialEvoError("the raw vocabulary has no fixed categories")
    if vocabulary != "vsibench":
        return frozenset(category_names(vocabulary))
    rows = _read_tsv(_table("vsibench.tsv"), ("dataset", "category"))
    return frozenset(normalize_label(r["category"]) for r in rows if dataset is None or r["dataset"] == dataset)


@cache
def _package_map(vocabulary: str, dataset: str | None) -> dict[str, str]:
    """The package's label → category tables of a vocabulary (one dataset's, or all of them)."""
    out: dict[str, str] = {}
    for ds in DATASETS if dataset is None else (dataset,):
        path = _table(f"{vocabulary}-{ds}.map.tsv")
        if path.is_file():
            for r in _read_tsv(path, ("label", "category")):
                out.setdefault(normalize_label(r["label"]), normalize_label(r["category"]))
    return out


def check_vocabulary(name: object) -> str:
    """``name`` if it is one of :data:`VOCABULARIES`, else a one-line :class:`SpatialEvoError`."""
    if name not in VOCABULARIES:
        raise SpatialEvoError(f"unknown label vocabulary {name!r}; vocabularies: {', '.join(VOCABULARIES)}")
    return str(name)


@dataclass(frozen=True)
class ScanNetTable:
    """ScanNet's ``scannetv2-labels.combined.tsv``: normalised raw label → its ``category``,
    ``nyu40class`` and raw-category ``id``."""

    path: Path
    category: dict[str, str] = field(repr=False)
    nyu40: dict[str, str] = field(repr=False)
    ids: dict[str, int] = field(repr=False)

    @classmethod
    def read(cls, path: str | Path) -> ScanNetTable:
        """Read the tsv (columns ``id``, ``raw_category``, ``category``, ``nyu40class`` required)."""
        path = Path(path)
        rows = _read_tsv(path, ("id", "raw_category", "category", "nyu40class"))
        category, nyu40, ids = {}, {}, {}
        for k, r in enumerate(rows, start=2):
            try:
                raw = normalize_label(r["raw_category"])
            except SceneFormatError:
                raise SceneFormatError(f"row {k}: empty raw_category", path=path, field="raw_category") from None
            try:
                ids[raw] = int(r["id"])
            except ValueError:
                raise SceneFormatError(f"row {k}: id {r['id']!r} is not an integer", path=path, field="id") from None
            if r["category"]:
                category[raw] = normalize_label(r["category"])
            if r["nyu40class"]:
                nyu40[raw] = normalize_label(r["nyu40class"])
        return cls(path, category, nyu40, ids)


def find_scannet_tsv(path: str | Path) -> Path | None:
    """:data:`SCANNET_TSV` in the scan's folder or up to :data:`TSV_SEARCH_DEPTH` folders above it
    (a download keeps it at its top, beside ``scans/``), ``None`` if there is none."""
    p = Path(path).absolute()
    start = p if p.is_dir() else p.parent
    for folder in [start, *start.parents][: TSV_SEARCH_DEPTH + 1]:
        cand = folder / SCANNET_TSV
        if cand.is_file():
            return cand
    return None


@dataclass(frozen=True)
class LabelMap:
    """How the labels of one scene are mapped into a vocabulary (module docstring for the order).

    Attributes:
        vocabulary: one of :data:`VOCABULARIES` other than ``raw``.
        dataset: the scene's source dataset (``None``: every dataset's categories and tables).
        scannet: the ScanNet tsv, applied first (ScanNet scans).
    """

    vocabulary: str
    dataset: str | None = None
    scannet: ScanNetTable | None = None

    def __post_init__(self) -> None:
        if check_vocabulary(self.vocabulary) == "raw":
            raise SpatialEvoError("a label map needs a vocabulary other than raw")
        if self.dataset is not None and self.dataset not in DATASETS:
            raise SpatialEvoError(f"unknown dataset {self.dataset!r}; datasets: {', '.join(DATASETS)}")

    def map(self, label: str) -> str | None:
        """The category of normalised ``label`` in the vocabulary, ``None`` when it has none."""
        cats = categories(self.vocabulary, self.dataset)
        if self.scannet is not None and label in self.scannet.ids:  # a raw label the tsv knows decides
            if self.vocabulary == "nyu40":
                cat = self.scannet.nyu40.get(label)
                return cat if cat in cats else None
            if self.vocabulary == "scannet200":
                return category_ids("scannet200").get(self.scannet.ids[label])
            label = self.scannet.category.get(label, label)
        cat = _package_map(self.vocabulary, self.dataset).get(label, label)
        return cat if cat in cats else None

    def describe(self) -> str:
        """Where the mapping comes from, for ``scene.meta["label_source"]``."""
        parts = [f"package tables ({self.vocabulary}{'' if self.dataset is None else ', ' + self.dataset})"]
        if self.scannet is not None:
            parts.insert(0, str(self.scannet.path))
        return " + ".join(parts)


def label_map_for(vocabulary: str, path: str | Path, layout: str, *, scannet_tsv: str | Path | None = None,
                  dataset: str | None = None) -> LabelMap | None:
    """The :class:`LabelMap` for a scene loaded from ``path`` in ``layout`` (``None`` for ``raw``).

    A ScanNet scan (layout ``scannet``) needs ScanNet's tsv: ``scannet_tsv``, else the one
    :func:`find_scannet_tsv` finds; without it a vocabulary other than ``raw`` is refused with a
    message saying where it looked. Other layouts ignore ``scannet_tsv`` (a conversion of mixed
    sources gives it to every scene).
    """
    if check_vocabulary(vocabulary) == "raw":
        return None
    dataset = dataset if dataset is not None else LAYOUT_DATASET.get(layout)
    table = None
    if layout == "scannet":  # ScanNet's tsv maps ScanNet's raw labels only (other layouts ignore it)
        found = Path(scannet_tsv) if scannet_tsv is not None else find_scannet_tsv(path)
        if found is None:
            raise SceneFileNotFoundError(
                Path(path).absolute() / SCANNET_TSV,
                field=f"labels={vocabulary} needs ScanNet's {SCANNET_TSV} (searched the scan's folder and {TSV_SEARCH_DEPTH} "
                      "above; give it with label_map= / --label-map)",
            )
        table = ScanNetTable.read(found)
    return LabelMap(vocabulary, dataset, table)


def relabel(scene: Scene, mapping: LabelMap) -> Scene:
    """``scene`` with every object's label mapped into ``mapping.vocabulary`` (a new scene; the
    input is not changed). Unmapped objects are removed and their mesh faces become ``NO_HIT``
    (unlabelled surface that still occludes); ``meta`` records ``labels`` (the vocabulary),
    ``label_source``, ``raw_labels`` (id → source label of the objects whose label changed) and
    ``unmapped_objects`` (``{"id", "label"}``)."""
    kept, unmapped, raw = [], [], {}
    for obj in scene.objects:
        cat = mapping.map(obj.label)
        if cat is None:
            unmapped.append({"id": obj.id, "label": obj.label})
            continue
        if cat != obj.label:
            raw[str(obj.id)] = obj.label
            obj = dataclasses.replace(obj, label=cat)
        kept.append(obj)
    mesh = scene.mesh
    if mesh is not None and unmapped:
        gone = np.isin(mesh.face_object_ids, [u["id"] for u in unmapped])
        ids = np.where(gone, NO_HIT, mesh.face_object_ids).astype(np.int32)
        mesh = SceneMesh(mesh.vertices, mesh.faces, ids, mesh.vertex_colors)
    meta: dict[str, Any] = dict(scene.meta, labels=mapping.vocabulary, label_source=mapping.describe(),
                                raw_labels=raw, unmapped_objects=unmapped)
    return dataclasses.replace(scene, objects=kept, mesh=mesh, meta=meta, _visibility_cache={})
