"""The printable rule and GitHub's names: one regular expression is both the API schema's pattern
and the services' check, so that what the schema calls valid is accepted."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stackline_contract import github, text

_REFUSED = {"Cc", "Cf", "Zl", "Zp", "Zs"}


def test_printable_is_every_character_but_controls_formats_and_separators() -> None:
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code < 0xE000:
            continue  # lone surrogates cannot reach a service: they are invalid text
        character = chr(code)
        expected = code == 0x20 or unicodedata.category(character) not in _REFUSED
        assert text.is_printable(character) is expected, hex(code)


class _Schema(BaseModel):
    """The gateway's way of using the patterns (pydantic, with Python's `re` for lookahead)."""

    model_config = ConfigDict(regex_engine="python-re")
    name: str = Field(pattern=text.NAME_PATTERN)
    folder: str = Field(pattern=text.REPOSITORY_FOLDER_PATTERN)
    repo: str = Field(pattern=github.REPO_PATTERN)


def _schema_valid(**fields: str) -> bool:
    try:
        _Schema(**({"name": "n", "folder": "", "repo": "a/b"} | fields))
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("Shop API", True),
        ("ショップ", True),
        ("  a", True),
        ("   ", False),
        ("a\u200bb", False),
        ("a\nb", False),
        ("a\u00a0b", False),
        ("\ue000", True),
    ],
)
def test_the_name_pattern_is_printable_and_not_only_spaces(name: str, valid: bool) -> None:
    # What ProjectsService checks (after stripping), and what the schema says.
    assert (text.is_printable(name) and bool(name.strip())) is valid
    assert _schema_valid(name=name) is valid


@pytest.mark.parametrize(
    ("repo", "valid"),
    [
        ("octo-org/shop-api", True),
        ("a/b", True),
        ("a/.", False),
        ("a/..", False),
        ("a/...", True),
        ("-a/b", False),
        ("a--b/c", False),
        ("a" * 39 + "/b", True),
        ("a" * 40 + "/b", False),
        ("a/" + "b" * 100, True),
        ("a/" + "b" * 101, False),
    ],
)
def test_the_repo_pattern_is_normalise_repo(repo: str, valid: bool) -> None:
    assert (github.normalise_repo(repo) is not None) is valid
    assert _schema_valid(repo=repo) is valid


@pytest.mark.parametrize(
    ("folder", "valid"),
    [
        ("web/src/", True),
        (".", True),
        ("", True),
        ("./.well-known/", True),
        ("a/..b", True),
        ("../etc", False),
        (" ../etc", False),
        ("web/../src", False),
        ("/etc", False),
        (" /etc", False),
        ("web\\src", False),
        ("a\u200b", False),
    ],
)
def test_the_folder_pattern(folder: str, valid: bool) -> None:
    assert _schema_valid(folder=folder) is valid
