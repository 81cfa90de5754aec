"""The pattern subset a project may add to scrubbing: what it accepts runs without backtracking,
and what it matches."""

from __future__ import annotations

import re

import pytest

from stackline_contract.scrubbing import compile_patterns, translate, validate_field


@pytest.mark.parametrize(
    ("pattern", "text", "found"),
    [
        (r"cust_\d{6}", "ref cust_204861 and cust_12", ["cust_204861"]),
        (
            r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}",
            "iban DE44500105175407324931.",
            ["DE44500105175407324931"],
        ),
        (r"[^\s@]+@corp\.example", "to ops@corp.example now", ["ops@corp.example"]),
        (r"order-\d+", "order-1, order-22", ["order-1", "order-22"]),
        # Quantifiers never give back: `.*` takes the `x` it would need (documented).
        (r".*x", "abcx", []),
        (r"[^x]*x", "abcx", ["abcx"]),
    ],
)
def test_accepted_patterns_match_as_documented(pattern: str, text: str, found: list[str]) -> None:
    assert re.findall(translate(pattern), text) == found


def test_every_quantifier_is_possessive_and_bounded() -> None:
    assert translate(r"a+b*c?d{2,5}") == "a{1,256}+b{0,256}+c?+d{2,5}+"


def test_a_stored_pattern_the_rules_now_refuse_is_left_out() -> None:
    assert [p.pattern for p in compile_patterns(["ok_\\d", "(bad)"])] == ["ok_\\d"]


def test_field_names_are_normalised() -> None:
    assert validate_field(" X-Customer ID ") == "x_customer_id"
