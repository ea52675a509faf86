"""Scoring: MRA with ten thresholds, answer parsing, categorical normalisation, first-token scorer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spatialevo.dge.scoring import (
    MRA_THRESHOLDS,
    UNPARSABLE,
    direction_components,
    first_token_score,
    mean_relative_accuracy,
    normalize_choice,
    parse_answer,
    score,
    score_reason,
)

OPTS8 = ("front", "front-left", "left", "back-left", "back", "back-right", "right", "front-right")


def test_exactly_ten_thresholds() -> None:
    assert MRA_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)


@pytest.mark.parametrize(
    "pred,gt,want",
    [(2.0, 2.0, 1.0), (2.1, 2.0, 1.0), (1.9, 2.0, 1.0), (2.0 * 1.051, 2.0, 0.9), (1.5, 1.0, 0.1), (1.49, 1.0, 0.1), (1.51, 1.0, 0.0),
     (0.0, 1.0, 0.0), (1.2, 1.0, 0.7), (float("nan"), 1.0, 0.0)],
)
def test_mra_boundaries(pred, gt, want) -> None:
    assert mean_relative_accuracy(pred, gt) == pytest.approx(want)


def test_mra_rejects_bad_ground_truth() -> None:
    with pytest.raises(ValueError):
        mean_relative_accuracy(1.0, 0.0)


@pytest.mark.parametrize(
    "text,unit,want",
    [("2.5", "m", 2.5), ("<answer>2.5 m</answer>", "m", 2.5), ("250 cm", "m", 2.5), ("2.5m", "m", 2.5), ("2.5 meters, because the sofa", "m", 2.5),
     ("The answer is **1.8 metres**.", "m", 1.8), ("1.2 m", "cm", 120.0), ("85 centimeters", "cm", 85.0), ("12.5 m²", "m2", 12.5),
     ("12.5 square meters", "m2", 12.5), ("2,5 m", "m", 2.5), ("<answer>3</answer> or maybe <answer>2.0</answer>", "m", 2.0)],
)
def test_numbers_with_units(text, unit, want) -> None:
    assert parse_answer(text, "number", unit=unit) == pytest.approx(want)


@pytest.mark.parametrize("text,unit", [("2 or 3 m", "m"), ("about", "m"), ("12 m²", "m"), ("2.5 m", "m2"), ("", "m"), ("<answer></answer>", "m")])
def test_unparsable_numbers(text, unit) -> None:
    assert parse_answer(text, "number", unit=unit) == UNPARSABLE
    assert score(text, kind="number", gt=2.5, unit=unit) == 0.0


def test_counts_accept_words_and_digits() -> None:
    assert parse_answer("three", "integer") == 3 and parse_answer("<answer>4 chairs</answer>", "integer") == 4
    assert score("2", kind="integer", gt=3) == pytest.approx(0.4)  # error 1/3: thresholds 0.50–0.65 and score("3", kind="integer", gt=3) == 1.0


def test_choices_normalise_and_use_letters() -> None:
    opts = ("image1", "image2", "same", "neither")
    assert parse_answer("The first image.", "choice", options=opts) == "image1"
    assert parse_answer("both", "choice", options=opts) == "same"
    assert parse_answer("C", "choice", options=opts) == "same" and parse_answer("(B)", "choice", options=opts) == "image2"
    assert parse_answer("image1 or image2", "choice", options=opts) == UNPARSABLE
    labels = ("trash bin", "bin", "sofa")
    assert parse_answer("the Trash_Bin", "choice", options=labels) == "trash bin"
    assert parse_answer("It is the sofa, clearly.", "choice", options=labels) == "sofa"
    assert parse_answer("front left", "choice", options=OPTS8) == "front-left"
    assert parse_answer("Left-Front", "choice", options=OPTS8) == "front-left"
    assert score("back right", kind="choice", gt="back-right", options=OPTS8) == 1.0
    assert normalize_choice("  The  Front_Left ") == "front left"


def test_directions_are_sets() -> None:
    assert direction_components("left front") == direction_components("front-left") == frozenset({"front", "left"})
    assert direction_components("above and behind, to the right") == frozenset({"up", "back", "right"})
    assert direction_components("left and right") is None and direction_components("nowhere") is None
    assert score("<answer>Up-Left</answer>", kind="direction", gt="up-left") == 1.0
    assert score("left", kind="direction", gt="up-left") == 0.0
    assert score("turn left", kind="direction", gt="turn-left") == 1.0


def test_first_token_scorer() -> None:
    assert first_token_score("2.5 meters", kind="number", gt=2.5, unit="m") == 1.0
    assert first_token_score("about 2.5", kind="number", gt=2.5, unit="m") == 0.0
    assert first_token_score("B. sofa", kind="choice", gt="sofa", options=("chair", "sofa")) == 1.0
    assert first_token_score("front-left, I think", kind="choice", gt="front-left", options=OPTS8) == 1.0


def test_reason_codes() -> None:
    assert score_reason("<answer>Near tie</answer>", "near_tie") == 1.0
    assert score_reason("near-tie", "near_tie") == 1.0
    assert score_reason("ambiguous", "ambiguous_label") == 0.0


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["number", "integer", "choice", "direction"]))
def test_never_raises(text, kind) -> None:
    gt = {"number": 2.5, "integer": 3, "choice": "sofa", "direction": "front-left"}[kind]
    parse_answer(text, kind, unit="m", options=("sofa", "chair"))
    s = score(text, kind=kind, gt=gt, unit="m", options=("sofa", "chair"))
    assert 0.0 <= s <= 1.0
    assert 0.0 <= first_token_score(text, kind=kind, gt=gt, unit="m", options=("sofa", "chair")) <= 1.0
    assert score_reason(text, "near_tie") in (0.0, 1.0)
