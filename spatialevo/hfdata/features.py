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
    return {"string": pa.string(), "int64": pa.int64(), "float64": pa.float64(), "bool": pa.bool_()}[t]


def arrow_schema(columns: dict[str, Any]) -> Any:
    """The pyarrow schema of ``columns`` (name → type), with the Hugging Face features in its metadata."""
    import json

    import pyarrow as pa

    meta = {"huggingface": json.dumps({"info": {"features": hf_features(columns)}})}
    return pa.schema([(k, arrow_type(v)) for k, v in columns.items()], metadata=meta)


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
