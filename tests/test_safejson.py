"""Depth-limited JSON: exact depth on valid JSON, refusal of deep nesting, linear time."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spatialevo.safejson import MAX_DEPTH, JSONDepthError, json_depth, loads

TRICKY = st.lists(st.sampled_from(['"', "\\", "[", "]", "{", "}", '\\"', "\\\\", "é", "椅", "a"]), max_size=6).map("".join)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TRICKY,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(TRICKY, kids, max_size=3),
    max_leaves=30,
)


def _depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@settings(max_examples=400, deadline=None, derandomize=True)
@given(VALUES, st.booleans())
def test_depth_is_exact_for_valid_json(value, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert json_depth(text) == _depth(value)
    assert loads(text) == value


@pytest.mark.parametrize("text", ['{"a":' * 1300 + "1" + "}" * 1300, "[" * 100_000, "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1)])
def test_deep_nesting_is_refused_as_a_value_error(text):
    with pytest.raises(JSONDepthError, match="nested"):
        loads(text)
    with pytest.raises(ValueError):
        loads(text.encode())


def test_the_limit_itself_is_accepted_and_strings_do_not_count():
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    assert loads(json.dumps({"s": "[" * 10_000})) == {"s": "[" * 10_000}


def test_depth_scan_is_linear():
    big = json.dumps({"segIndices": list(range(2_000_000)), "groups": [{"id": i, "s": 'a\\"['} for i in range(100_000)]})
    t0 = time.perf_counter()
    assert json_depth(big) == 3
    assert time.perf_counter() - t0 < 2.0
