"""Column types of the dataset folders: one description, three spellings, one conversion.

A type is ``"string"``, ``"int64"``, ``"float64"``, ``"bool"`` or ``"image"``; ``[t]`` is a list of
``t`` and ``{name: t, ...}`` a record with those fields. From one description:

* :func:`arrow_type` — the Parquet (pyarrow) type a shard is written with;
* :func:`hf_features` — the ``datasets.Features`` JSON stored in each shard's metadata (what
  ``datasets`` and ``push_to_hub`` write themselves);
* :func:`yaml_features` — the card's ``dataset_info.features`` (so ``datasets.load_dataset(folder)``
  reads the columns with these types instead of inferring them);
* :func:`conform` — a Python value in that type (a record's missing fields empty, integers in float
  fields as floats), refusing a value that does not fit with the field's name.

An image is stored as Hugging Face stores it: ``{"bytes": PNG bytes, "path": file name}``; any list
may be empty and any field null.
"""

from __future__ import annotations

import math
from typing import Any

from spatialevo.errors import SpatialEvoError

PRIMITIVES = ("string", "int64", "float64", "bool")
IMAGE = "image"


def arrow_type(t: Any) -> Any:
    """The pyarrow type of a column type."""
    import pyarrow as pa

    if isinstance(t, list):
        return pa.list_(arrow_type(t[0]))
    if isinstance(t, dict):
        return pa.struct([(k, arrow_type(v)) for k, v in t.items()])
    if t == IMAGE:
        return pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    return {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_(), "binary": pa.binary()}[t]


def arrow_schema(columns: dict[str, Any]) -> Any:
    """The pyarrow schema of ``columns`` (name → type), with the Hugging Face features in its metadata."""
    import json

    import pyarrow as pa

    meta = {"huggingface": json.dumps({"info": {"features": hf_features(columns)}})}
    return pa.schema([(k, arrow_type(v)) for k, v in columns.items()], metadata=meta)


#: largest byte count of one string / binary column of a batch (int32 offsets)
_MAX_OFFSET = 2**31 - 1


def arrow_table(rows: list[dict[str, Any]], columns: dict[str, Any], schema: Any) -> Any:
    """A pyarrow Table of ``rows`` (values conformed to ``columns``, ``None`` = null) with ``schema``
    (:func:`arrow_schema` of ``columns``): the table ``pa.Table.from_pylist(rows, schema=schema)``
    makes, built from buffers (pyarrow converts Python lists by importing pandas, ≈ 0.4 s)."""
    import pyarrow as pa

    return pa.Table.from_arrays([arrow_array([r.get(k) for r in rows], t) for k, t in columns.items()], schema=schema)


def arrow_array(values: list[Any], t: Any) -> Any:
    """``values`` of column type ``t`` (conformed; ``None`` = null) as a pyarrow Array of
    :func:`arrow_type` ``t``: validity bitmaps, int32 offsets and data buffers from numpy. A string
    or binary column of more than 2 GiB in one batch goes through ``pa.array``."""
    import numpy as np
    import pyarrow as pa

    n = len(values)
    valid = np.fromiter((v is not None for v in values), dtype=bool, count=n)
    bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    typ = arrow_type(t)
    if isinstance(t, list):
        offsets = _offsets(len(v) if v is not None else 0 for v in values)
        child = arrow_array([x for v in values if v is not None for x in v], t[0])
        return pa.Array.from_buffers(typ, n, [bitmap, pa.py_buffer(offsets.astype(np.int32))], children=[child])
    if isinstance(t, dict) or t == IMAGE:
        fields = t if isinstance(t, dict) else {"bytes": "binary", "path": "string"}
        children = [arrow_array([v.get(k) if v is not None else None for v in values], ft) for k, ft in fields.items()]
        return pa.Array.from_buffers(typ, n, [bitmap], children=children)
    if t in ("string", "binary"):
        data = [(v.encode("utf-8") if t == "string" else bytes(v)) if v is not None else b"" for v in values]
        offsets = _offsets(len(d) for d in data)
        if offsets[-1] > _MAX_OFFSET:
            return pa.array(values, type=typ)
        return pa.Array.from_buffers(typ, n, [bitmap, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(b"".join(data))])
    if t == "bool":
        bits = np.fromiter((bool(v) for v in values), dtype=bool, count=n)
        return pa.Array.from_buffers(typ, n, [bitmap, pa.py_buffer(np.packbits(bits, bitorder="little"))])
    dtype = {"int64": np.int64, "float64": np.float64}[t]
    data = np.fromiter((v if v is not None else 0 for v in values), dtype=dtype, count=n)
    return pa.Array.from_buffers(typ, n, [bitmap, pa.py_buffer(data)])


def _offsets(lengths: Any) -> Any:
    """(n + 1,) int64 running offsets of the lengths (0 first)."""
    import numpy as np

    lens = np.fromiter(lengths, dtype=np.int64)
    out = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=out[1:])
    return out


def hf_features(t: Any) -> Any:
    """``datasets.Features.to_dict()`` of a type (``datasets`` ≥ 4 spelling: ``List``)."""
    if isinstance(t, list):
        return {"feature": hf_features(t[0]), "_type": "List"}
    if isinstance(t, dict):
        return {k: hf_features(v) for k, v in t.items()}
    if t == IMAGE:
        return {"_type": "Image"}
    return {"dtype": t, "_type": "Value"}


def yaml_features(columns: dict[str, Any]) -> list[dict[str, Any]]:
    """The card's ``dataset_info.features`` list for ``columns``."""
    return [{"name": k, **_yaml(v)} for k, v in columns.items()]


def _yaml(t: Any) -> dict[str, Any]:
    if isinstance(t, list):
        inner = t[0]
        return {"list": yaml_features(inner) if isinstance(inner, dict) else _yaml(inner) if isinstance(inner, list) else inner}
    if isinstance(t, dict):
        return {"struct": yaml_features(t)}
    return {"dtype": t}


def conform(value: Any, t: Any, name: str) -> Any:
    """``value`` as type ``t`` (``name``: the field, for the error). ``None`` stays ``None``.

    Raises:
        SpatialEvoError: a value of another type, a record field the type does not have, or a
            float that is not finite.
    """
    if value is None:
        return None
    if isinstance(t, list):
        if not isinstance(value, (list, tuple)):
            raise SpatialEvoError(f"{name}: a list was expected, got {type(value).__name__}")
        return [conform(v, t[0], f"{name}[{i}]") for i, v in enumerate(value)]
    if isinstance(t, dict):
        if not isinstance(value, dict):
            raise SpatialEvoError(f"{name}: a record was expected, got {type(value).__name__}")
        extra = sorted(set(value) - set(t))
        if extra:
            raise SpatialEvoError(f"{name}: field {extra[0]!r} has no column type (add it to the schema)")
        return {k: conform(value.get(k), v, f"{name}.{k}") for k, v in t.items()}
    if t == "float64" and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise SpatialEvoError(f"{name}: {value} is not a finite number")
        return float(value)
    ok = {"string": str, "int64": int, "bool": bool, IMAGE: dict}[t]
    if not isinstance(value, ok) or (t == "int64" and isinstance(value, bool)):
        raise SpatialEvoError(f"{name}: {t} expected, got {type(value).__name__} {value!r}")
    return value
