"""Dataset folders that ``datasets``, TRL and lmms-eval load as they are.

:func:`write_folder` turns a generate run's records into Parquet shards of one format
(:data:`FORMATS`: ``spatialevo``, ``trl``, ``sft``, ``vsibench``) with a dataset card; the column
types are described once (:data:`COLUMNS`, :mod:`~spatialevo.hfdata.features`). Needs ``pyarrow``
(not ``datasets``).
"""

from __future__ import annotations

from spatialevo.hfdata.folder import read_records, write_folder
from spatialevo.hfdata.formats import COLUMNS, FORMATS, rows

__all__ = ["COLUMNS", "FORMATS", "read_records", "rows", "write_folder"]
