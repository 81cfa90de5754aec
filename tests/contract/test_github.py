"""GitHub's names, one rule for every service."""

from __future__ import annotations

import re

import pytest

from stackline_contract.github import SHA_PATTERN, normalise_repo, normalise_sha


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("octo-org/shop-api", "octo-org/shop-api"),
        ("  octo/shop.api_v2  ", "octo/shop.api_v2"),
        ("a" * 39 + "/r", "a" * 39 + "/r"),
        ("o/" + "r" * 100, "o/" + "r" * 100),
        ("octo/.github", "octo/.github"),
    ],
)
def test_repositories_github_allows(text: str, expected: str) -> None:
    assert normalise_repo(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "octo/.",
        "octo/..",
        "-octo/repo",
        "octo-/repo",
        "oc--to/repo",
        "a" * 40 + "/r",
        "o/" + "r" * 101,
        "octo",
        "octo/repo/extra",
        "octo/re po",
        "",
    ],
)
def test_names_github_refuses(text: str) -> None:
    assert normalise_repo(text) is None


def test_shas_are_compared_in_lower_case_and_short_ones_only_where_allowed() -> None:
    full = "4F2A9C1E8B7D6A5F4E3D2C1B0A9F8E7D6C5B4A39"
    assert normalise_sha(full) == full.lower()
    assert normalise_sha(full, full=True) == full.lower()
    assert normalise_sha("4f2a9c1") == "4f2a9c1"
    assert normalise_sha("4f2a9c1", full=True) is None
    for bad in ("4f2a9c", "g" * 40, "4" * 41, " 4f2a9c1", ""):
        assert normalise_sha(bad) is None


def test_the_pattern_clients_are_held_to_is_the_rule() -> None:
    pattern = re.compile(SHA_PATTERN)
    for text in (
        "4f2a9c1",
        "4F2A9C1E8B7D6A5F4E3D2C1B0A9F8E7D6C5B4A39",
        "4f2a9c",
        "g" * 7,
        "4" * 41,
    ):
        assert bool(pattern.match(text)) == (normalise_sha(text) is not None)
