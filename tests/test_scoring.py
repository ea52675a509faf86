"""Scoring of model answers against DGE ground truth (spatialevo.dge.scoring): MRA, answer parsing,
units, choices and synonyms, direction sets, the first-token scorer, reason codes, fuzz."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spatialevo.dge.scoring import (
    COMPONENT_ORDER,
    MRA_THRESHOLDS,
    UNPARSABLE,
    ReasonAnswer,
    answer_block,
    canonical_text,
    choices_match,
    direction_components,
    extract_answer,
    first_token_score,
    mean_relative_accuracy,
    normalize_choice,
    parse_answer,
    read_answer,
    score,
    score_reason,
)

DIRS8 = ("front", "front-left", "left", "back-left", "back", "back-right", "right", "front-right")
HARD = ("front-left", "front-right", "back-left", "back-right")
VIS = ("image1", "image2", "same", "neither")
ELEV = ("higher", "lower")
LABELS = ("trash bin", "sofa", "table", "coffee table")


# ------------------------------------------------------------------------------------------ MRA
def test_exactly_ten_thresholds() -> None:
    assert len(MRA_THRESHOLDS) == 10
    assert MRA_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
    assert list(MRA_THRESHOLDS) == np.round(np.arange(10) * 0.05 + 0.5, 2).tolist()


# gts chosen so that float error matters: e.g. |1.1·1.05 − 1.1| / 1.1 > 1 − 0.95 in floating point
GTS = (0.3, 0.7, 0.9, 1.0, 1.1, 2.5, 3.3, 4.1, 4.7, 47.0, 123.0)


@pytest.mark.parametrize("gt", GTS)
@pytest.mark.parametrize(
    "factor,want",
    [
        (1.0, 1.0),
        (1.05, 1.0),  # relative error 0.05 = 1 − 0.95: every threshold passes (<=)
        (0.95, 1.0),
        (1.051, 0.9),  # 0.051 > 0.05 fails θ=0.95 only
        (1.10, 0.9),  # 0.10 passes θ ≤ 0.90: 9 of 10
        (0.90, 0.9),
        (1.3, 0.5),  # 0.30 passes θ ∈ {0.50, 0.55, 0.60, 0.65, 0.70}
        (1.5, 0.1),  # 0.50 passes θ = 0.50 only
        (0.5, 0.1),
        (1.5001, 0.0),
        (2.0, 0.0),
        (0.0, 0.0),
    ],
)
def test_mra_boundaries(gt: float, factor: float, want: float) -> None:
    assert mean_relative_accuracy(gt * factor, gt) == want


def test_mra_bad_inputs() -> None:
    for gt in (0.0, -1.0, float("nan"), float("inf"), "abc", None):
        with pytest.raises(ValueError):
            mean_relative_accuracy(1.0, gt)  # type: ignore[arg-type]
    for pred in (float("nan"), float("inf"), -float("inf"), "x", None):
        assert mean_relative_accuracy(pred, 2.0) == 0.0  # type: ignore[arg-type]
    assert mean_relative_accuracy(np.float32(2.0), np.int64(2)) == 1.0


# -------------------------------------------------------------------------------------- numbers
@pytest.mark.parametrize(
    "text,unit,want",
    [
        ("2.5", "m", 2.5),
        ("2.5 m", "m", 2.5),
        ("2.5m", "m", 2.5),
        ("2.5 meters", "m", 2.5),
        ("2.5-metre", "m", 2.5),
        ("250 cm", "m", 2.5),
        ("250 centimeters", "m", 2.5),
        ("2500 mm", "m", 2.5),
        ("2.5 m", "cm", 250.0),
        ("85 centimetres", "cm", 85.0),
        ("1.2 m²", "m2", 1.2),
        ("1.2 m2", "m2", 1.2),
        ("1.2 m^2", "m2", 1.2),
        ("1.2 square meters", "m2", 1.2),
        ("1.2 sq m", "m2", 1.2),
        ("1.2 meters squared", "m2", 1.2),
        ("12000 cm2", "m2", 1.2),
        ("12,000 cm²", "m2", 1.2),  # comma + three digits: thousands separator
        ("2,5 m", "m", 2.5),  # comma + one or two digits: decimal comma
        ("0,25 m", "cm", 25.0),
        ("Approximately ~2.5 m.", "m", 2.5),
        ("２.５ ｍ", "m", 2.5),  # full-width (NFKC)
        ("\\boxed{2.5}", "m", 2.5),
        ("$2.5\\,\\text{m}$", "m", 2.5),
        ("2.5 m, 250 cm", "m", 2.5),  # equal after conversion: fine
    ],
)
def test_numbers_and_units(text: str, unit: str, want: float) -> None:
    assert parse_answer(text, "number", unit=unit) == pytest.approx(want, rel=1e-12)


def test_unit_conversion_scores_exactly() -> None:
    assert score("250 cm", kind="number", gt=2.5, unit="m") == 1.0
    assert score("<answer>2.62 m</answer>", kind="number", gt=250, unit="cm") == 1.0
    assert score("12000 cm2", kind="number", gt=1.2, unit="m2") == 1.0
    assert score("250", kind="number", gt=2.5, unit="m") == 0.0  # no unit: the expected unit (250 m)
    assert parse_answer("250 cm", "number") == 250.0  # unit=None: units ignored


def test_answer_tags() -> None:
    assert parse_answer("<think>maybe 3 m</think><answer>2.5 m</answer>", "number", unit="m") == 2.5
    assert parse_answer("<answer>3</answer> no wait <answer>2.0</answer>", "number", unit="m") == 2.0
    assert parse_answer("<Answer> 2.5 </ANSWER>", "number", unit="m") == 2.5
    assert parse_answer("reasoning 7 m ... <answer>2.5", "number", unit="m") == 2.5  # unclosed: text after it
    assert extract_answer("a <answer>x</answer> b <answer>y</answer> c") == "y"
    assert extract_answer("no tags 1") == "no tags 1"
    assert parse_answer("<answer></answer> 2.5", "number", unit="m") == UNPARSABLE


@pytest.mark.parametrize(
    "text",
    [
        "2.5 m, because the sofa is 3 m wide",
        "The answer is **2.5 m**.",
        "Answer: 2.5 meters. The stove is 1 m wide.",
        "Based on the 3D view, the distance is about 2.5 m",
        "In image 2, the sofa is 2.5 m from chair#3",
        "2.5 m (8.2 ft)",
        "2.5 m; I measured from the closest points",
    ],
)
def test_prose_around_numbers(text: str) -> None:
    assert parse_answer(text, "number", unit="m") == pytest.approx(2.5)
    assert score(text, kind="number", gt=2.5, unit="m") == 1.0


@pytest.mark.parametrize(
    "text,unit",
    [
        ("2 or 3", "m"),
        ("2.5 m or 250 cm", "m"),  # "or" is a hedge / alternative anywhere in the span (SPEC §8)
        ("2-3 m", "m"),
        ("between 2 and 3 meters", "m"),
        ("2.5 m, 3 m", "m"),
        ("about", "m"),
        ("", "m"),
        ("<answer></answer>", "m"),
        ("1,2345", "m"),
        ("9" * 400, "m"),  # overflows to inf
        ("1.2 m²", "m"),  # area where a distance is asked
        ("2.5 m", "m2"),  # distance where an area is asked
        ("3D", "m"),
    ],
)
def test_unparsable_numbers(text: str, unit: str) -> None:
    assert parse_answer(text, "number", unit=unit) == UNPARSABLE
    assert score(text, kind="number", gt=2.5, unit=unit) == 0.0


def test_counts() -> None:
    assert parse_answer("three", "integer") == 3 and isinstance(parse_answer("three", "integer"), int)
    assert parse_answer("<answer>4 chairs</answer>", "integer") == 4
    assert parse_answer("There are Twelve.", "integer") == 12
    assert parse_answer("3 m", "integer") == UNPARSABLE  # a count has no unit
    assert parse_answer("3 chairs and one table", "integer") == UNPARSABLE
    assert score("2", kind="integer", gt=3) == 0.4  # error 1/3 passes θ ∈ {0.50, 0.55, 0.60, 0.65}
    assert score("3", kind="integer", gt=3) == 1.0 and score("4", kind="integer", gt=2) == 0.0


# -------------------------------------------------------------------------------------- choices
@pytest.mark.parametrize(
    "text,options,want",
    [
        ("The first image.", VIS, "image1"),
        ("Image 1", VIS, "image1"),
        ("1st image", VIS, "image1"),
        ("image_2", VIS, "image2"),
        ("Both are equally visible", VIS, "same"),
        ("the same", VIS, "same"),
        ("None", VIS, "neither"),
        ("neither image 1 nor image 2", VIS, "neither"),
        ("above", ELEV, "higher"),
        ("Camera 2 is taller", ELEV, "higher"),
        ("below", ELEV, "lower"),
        ("the Trash_Bin", LABELS, "trash bin"),
        ("The trash bins", LABELS, "trash bin"),
        ("the coffee table", LABELS, "coffee table"),  # the longer option shadows "table"
        ("It is the sofa, clearly.", LABELS, "sofa"),
        ("sofa, because it is closer than the table", LABELS, "sofa"),
        ("front left", DIRS8, "front-left"),
        ("Left-Front", DIRS8, "front-left"),
        ("behind", DIRS8, "back"),
        ("ahead and to the right", DIRS8, "front-right"),
        ("back_right", HARD, "back-right"),
    ],
)
def test_choice_synonyms(text: str, options: tuple[str, ...], want: str) -> None:
    assert parse_answer(text, "choice", options=options) == want
    assert score(text, kind="choice", gt=want, options=options) == 1.0


@pytest.mark.parametrize(
    "text,want",
    [("B", "image2"), ("B.", "image2"), ("(B)", "image2"), ("b", "image2"), ("The answer is C.", "same"), ("Answer: Option D", "neither"),
     ("(A) image 1", "image1")],
)
def test_choice_letters(text: str, want: str) -> None:
    assert parse_answer(text, "choice", options=VIS) == want


@pytest.mark.parametrize(
    "text,options",
    [
        ("image1 or image2", VIS),
        ("The sofa is closer than the table", LABELS),
        ("lower, not higher", ELEV),  # negation is not understood: two options
        ("front", HARD),  # not an option
        ("left and right", DIRS8),
        ("a chair", LABELS),
        ("E", VIS),  # letter beyond the options
        ("", VIS),
    ],
)
def test_unparsable_choices(text: str, options: tuple[str, ...]) -> None:
    assert parse_answer(text, "choice", options=options) == UNPARSABLE
    assert score(text, kind="choice", gt=options[0], options=options) == 0.0


def test_choices_without_options_and_normalisation() -> None:
    assert normalize_choice("  The  Front_Left ") == "front left"
    assert normalize_choice("First Image!") == "image1" and normalize_choice("NEITHER") == "neither"
    assert choices_match("left front", "front-left") and not choices_match("left", "front-left")
    assert score("Left front.", kind="choice", gt="front-left") == 1.0
    assert score("<answer>the Sofa</answer>", kind="choice", gt="sofa") == 1.0
    assert score("sofa or chair", kind="choice", gt="sofa") == 0.0
    assert score("chair", kind="choice", gt="sofa", options=("sofa", "chair")) == 0.0


# ----------------------------------------------------------------------------------- directions
def test_direction_components() -> None:
    fl = frozenset({"front", "left"})
    assert direction_components("left front") == direction_components("Front Left") == direction_components("left-front") == fl
    assert direction_components("above and behind, to the right") == frozenset({"up", "back", "right"})
    assert direction_components("The camera turned to the left") == frozenset({"turn-left"})
    assert direction_components("turn-right") == direction_components("clockwise") == frozenset({"turn-right"})
    assert direction_components("counter-clockwise") == frozenset({"turn-left"})
    assert direction_components("left and right") is None and direction_components("nowhere") is None


@given(st.data())
@settings(max_examples=200, deadline=None)
def test_directions_compare_as_sets(data: st.DataObject) -> None:
    comps = data.draw(st.lists(st.sampled_from([("up", "down"), ("front", "back"), ("left", "right")]), min_size=1, max_size=3, unique=True))
    parts = [data.draw(st.sampled_from(pair)) for pair in comps]
    order = data.draw(st.permutations(parts))
    sep = data.draw(st.sampled_from(["-", " ", "_", " and ", ", ", "-and-"]))
    text = sep.join(order)
    text = data.draw(st.sampled_from([text, text.upper(), text.title(), f"<answer>{text}</answer>", f"It moved {text}."]))
    gt = "-".join(c for c in COMPONENT_ORDER if c in parts)
    assert parse_answer(text, "direction") == frozenset(parts)
    assert score(text, kind="direction", gt=gt) == 1.0


def test_direction_scoring() -> None:
    assert score("<answer>Up-Left</answer>", kind="direction", gt="up-left") == 1.0
    assert score("left", kind="direction", gt="up-left") == 0.0  # a subset is wrong
    assert score("up-back-left", kind="direction", gt="up-left") == 0.0  # a superset is wrong
    assert score("turn left", kind="direction", gt="turn-left") == 1.0
    assert score("up and down", kind="direction", gt="up") == 0.0
    assert score("front-left, because the chair is on the right", kind="direction", gt="front-left") == 1.0
    with pytest.raises(ValueError):
        score("left", kind="direction", gt="sideways")


# ---------------------------------------------------------------------------------- first token
def test_first_token_scorer() -> None:
    assert first_token_score("2.5 meters", kind="number", gt=2.5, unit="m") == 1.0
    assert first_token_score("2.5. It is far", kind="number", gt=2.5, unit="m") == 1.0
    assert first_token_score("about 2.5", kind="number", gt=2.5, unit="m") == 0.0
    assert first_token_score("2.5m", kind="number", gt=2.5, unit="m") == 0.0  # token is not a number
    assert first_token_score("250 cm", kind="number", gt=2.5, unit="m") == 0.0  # no conversion
    assert first_token_score("<answer>3 chairs</answer>", kind="integer", gt=3) == 1.0
    assert first_token_score("three", kind="integer", gt=3) == 0.0
    assert first_token_score("B. sofa", kind="choice", gt="sofa", options=("chair", "sofa")) == 1.0
    assert first_token_score("(B)", kind="choice", gt="sofa", options=("chair", "sofa")) == 1.0
    assert first_token_score("A", kind="choice", gt="sofa", options=("chair", "sofa")) == 0.0
    assert first_token_score("sofa, I think", kind="choice", gt="sofa", options=("chair", "sofa")) == 1.0
    assert first_token_score("the sofa", kind="choice", gt="sofa", options=("chair", "sofa")) == 0.0
    assert first_token_score("front-left, I think", kind="choice", gt="front-left", options=DIRS8) == 1.0
    assert first_token_score("front left", kind="direction", gt="front-left") == 0.0
    assert first_token_score("Left-Front.", kind="direction", gt="front-left") == 1.0


# -------------------------------------------------------------------------------- reason codes
def test_reason_codes() -> None:
    for text in ("near_tie", "Near tie", "near-tie", "<answer>NEAR_TIE</answer>", "invalid: near tie."):
        assert score_reason(text, "near_tie") == 1.0, text
    assert score_reason("near_tie or too_close", "near_tie") == 0.0  # naming several codes
    assert score_reason("ambiguous", "ambiguous_label") == 0.0
    assert score_reason("nearly tied", "near_tie") == 0.0
    assert score_reason("2.5 m", "near_tie") == 0.0
    assert score_reason("<answer>label absent</answer>", "label_absent") == 1.0


# ---------------------------------------------------------------------------- one committed answer
def test_read_answer_returns_one_of_value_reason_unparsable() -> None:
    assert read_answer("<answer>2.5 m</answer>", "number", unit="m") == 2.5
    assert read_answer("<answer>invalid: near tie</answer>", "number", unit="m") == ReasonAnswer("near_tie")
    assert parse_answer("<answer>invalid: near tie</answer>", "number", unit="m") == UNPARSABLE  # not a value
    assert read_answer("<answer>2.5 m near tie</answer>", "number", unit="m") == UNPARSABLE
    assert read_answer("near_tie", "choice", options=VIS) == read_answer("near_tie", "direction") == ReasonAnswer("near_tie")
    assert str(ReasonAnswer("too_close")) == "too_close"


@pytest.mark.parametrize(
    "text,kind,unit,options",
    [("about 250 cm", "number", "m", None), ("0,25 m", "number", "cm", None), ("twelve", "integer", None, None),
     ("12,000 cm²", "number", "m2", None), ("the first image", "choice", None, VIS), ("(B)", "choice", None, LABELS),
     ("Left front.", "choice", None, DIRS8), ("turned to the left", "direction", None, None), ("above, behind", "direction", None, None),
     ("Invalid - label absent", "number", "m", None), ("0.30000000000000004 m", "number", "m", None), ("-2.5", "number", "m", None)],
)
def test_canonical_text_reads_back_the_same(text: str, kind: str, unit: str | None, options: tuple[str, ...] | None) -> None:
    read = read_answer(text, kind, unit=unit, options=options)
    assert read != UNPARSABLE
    assert read_answer(canonical_text(read), kind, unit=unit, options=options) == read
    assert canonical_text(UNPARSABLE) == "" and canonical_text(float("inf")) == ""


def test_answer_block_and_extract_answer() -> None:
    assert answer_block("<answer>1</answer>") == "1" and answer_block("< ANSWER > 1 </ answer >") == "1"
    assert answer_block("<answer></answer>") == "" and answer_block("<answer>1") is None and answer_block(None) is None  # type: ignore[arg-type]
    assert answer_block("<answer>1</answer> then </answer>") == "1"  # the first closing tag after the last opening one
    assert extract_answer("<answer>1</answer> then <answer>2") == "1"  # a complete block wins over an unclosed one
    assert extract_answer("</answer> x <answer> y") == "y" and extract_answer("x </answer>") == "x"


def test_a_long_list_of_equal_numbers_is_not_an_answer() -> None:
    assert parse_answer(" ".join(["2.5 m"] * 8), "number", unit="m") == 2.5
    assert parse_answer(" ".join(["2.5 m"] * 9), "number", unit="m") == UNPARSABLE


@pytest.mark.parametrize("text", ["2*1", "2²", "2..5", "1.2.3", "2 x 1", "2^2", "2.5 = 2.5", "not 2.5", "2.5, or so", "maybe 2.5",
                                  "probably 2.5", "2.5 m, I can't be sure"])
def test_uncommitted_or_malformed_numbers(text: str) -> None:
    assert parse_answer(text, "number", unit="m") == UNPARSABLE


def test_dash_between_words_is_a_hyphen() -> None:
    for dash in ("\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2015", "\u2212"):
        assert parse_answer(f"front{dash}right", "choice", options=DIRS8) == "front-right", dash
        assert parse_answer(f"back{dash}left", "direction") == frozenset({"back", "left"}), dash
    assert parse_answer("2\u20133 m", "number", unit="m") == UNPARSABLE  # a range, as "2-3 m"
    assert parse_answer("front \u2014 the chair is on the right", "choice", options=DIRS8) == "front"  # spaced: a clause break


# ------------------------------------------------------------------------------------------ fuzz
_FRAGMENTS = ["<answer>", "</answer>", "2.5", "250", ",", ".", " ", "m", "cm", "m²", "²", "^", "sq", "square", "-", "−", "left",
              "right", "front", "back", "up", "turn", "image 1", "B", "(", ")", "the", "sofa", "same", "neither", "higher", "9" * 30,
              "１", "İ", "ſ", "K", "\\boxed{", "}", "**", "nor", "because", "\n", "three", "#", "e5", "near_tie"]
TEXTS = st.one_of(st.text(max_size=300), st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join))
GT = {"number": 2.5, "integer": 3, "choice": "sofa", "direction": "front-left"}


@pytest.mark.parametrize("kind", ["number", "integer", "choice", "direction"])
def test_fuzz_never_raises(kind: str) -> None:
    @settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=TEXTS, options=st.one_of(st.none(), st.just(("sofa", "chair")), st.just(DIRS8), st.lists(st.text(max_size=12), max_size=5)))
    def check(text: str, options: list[str] | None) -> None:
        unit = "m" if kind == "number" else None
        parsed = parse_answer(text, kind, unit=unit, options=options)
        if kind in ("number", "integer"):
            assert parsed == UNPARSABLE or math.isfinite(parsed)
        elif kind == "direction":
            assert parsed == UNPARSABLE or (isinstance(parsed, frozenset) and parsed <= set(COMPONENT_ORDER))
        elif options and parsed != UNPARSABLE:
            assert parsed in options
        gt = GT[kind] if kind != "choice" or not options else options[0]
        for scorer in (score, first_token_score):
            s = scorer(text, kind=kind, gt=gt, unit=unit, options=options)
            assert 0.0 <= s <= 1.0
        assert score_reason(text, "near_tie") in (0.0, 1.0)
        assert isinstance(normalize_choice(text), str)
        direction_components(text)

    check()


def test_non_string_predictions_score_zero() -> None:
    for pred, kind in itertools.product((None, 2.5, b"2.5", ["2.5"]), GT):
        assert parse_answer(pred, kind) == UNPARSABLE  # type: ignore[arg-type]
        assert score(pred, kind=kind, gt=GT[kind]) == 0.0  # type: ignore[arg-type]
        assert first_token_score(pred, kind=kind, gt=GT[kind]) == 0.0  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        score("2.5", kind="float", gt=2.5)


def test_dge_answers_score_one() -> None:
    """Every task's canonical answer text (bare, tagged, with its unit) scores 1 against its verdict."""
    from spatialevo import DGE, load_scene
    from spatialevo.bundled import bundled_scene_paths
    from spatialevo.dge import TASKS, make_rng

    dge, rng, seen = DGE(load_scene(bundled_scene_paths()[0])), make_rng(0), set()
    for task in TASKS:
        for _ in range(3):
            v = dge.evaluate(dge.sample(task, rng))
            if not v.valid:
                continue
            seen.add(v.answer_kind)
            unit_text = {"m": " m", "cm": " cm", "m2": " m²"}.get(v.unit or "", "")
            for text in (v.answer_text, f"<answer>{v.answer_text}</answer>", f"The answer is {v.answer_text}{unit_text}."):
                assert score(text, kind=v.answer_kind, gt=v.answer, unit=v.unit, options=v.options) == 1.0, (task, text)
            wrong = {"number": "0.001", "integer": "1000", "direction": "down-back-right" if "left" in v.answer_text else "down-back-left"}
            if v.answer_kind in wrong:
                assert score(wrong[v.answer_kind], kind=v.answer_kind, gt=v.answer, unit=v.unit, options=v.options) < 1.0
    assert seen == {"number", "integer", "choice", "direction"}
