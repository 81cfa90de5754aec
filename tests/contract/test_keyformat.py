from __future__ import annotations

import math

import pytest

from stackline_contract import keyformat


def test_generated_keys_are_well_formed_and_distinct() -> None:
    keys = {keyformat.generate() for _ in range(1000)}
    assert len(keys) == 1000
    for key in keys:
        assert key.startswith("slk_")
        assert len(key) == keyformat.KEY_LENGTH
        assert keyformat.is_well_formed(key)


def test_random_part_carries_at_least_190_bits() -> None:
    random_chars = keyformat.KEY_LENGTH - len(keyformat.PREFIX) - 6
    assert random_chars * math.log2(62) >= 190


@pytest.mark.parametrize("position", [4, 10, 39, 40, 45])
def test_checksum_catches_a_changed_character(position: int) -> None:
    key = keyformat.generate()
    replacement = "A" if key[position] != "A" else "B"
    tampered = key[:position] + replacement + key[position + 1 :]
    assert not keyformat.is_well_formed(tampered)


@pytest.mark.parametrize(
    "candidate",
    ["", "slk_", "sk_live_" + "a" * 42, "slk_" + "a" * 41, "slk_" + "a" * 43, "slk_" + "!" * 42],
)
def test_malformed_candidates_are_refused(candidate: str) -> None:
    assert not keyformat.is_well_formed(candidate)


def test_digest_and_display_prefix() -> None:
    key = keyformat.generate()
    assert len(keyformat.digest(key)) == 32
    assert keyformat.digest(key) != keyformat.digest(keyformat.generate())
    assert keyformat.display_prefix(key) == key[:10]


# Golden: a key as Stackline 0.1.0 issued it (made for this test; no project anywhere uses it),
# with the digest that release stored for it. Keys live in users' deployments for years: a
# change to the format, the checksum or the digest that refuses this key is a breaking change.
ISSUED_KEY = "slk_cawJMpV1ivyqbFXNOgCOaoj3Zc0BzdLZMMqN3WtpBz"
ISSUED_KEY_DIGEST = "ee76088b544eefa1b54cb9b900d3dcef6420f1d60f77ff7fcacd49bfefb7a839"


def test_a_key_issued_before_still_validates() -> None:
    assert keyformat.is_well_formed(ISSUED_KEY)
    assert keyformat.digest(ISSUED_KEY).hex() == ISSUED_KEY_DIGEST
    assert keyformat.display_prefix(ISSUED_KEY) == "slk_cawJMp"


def test_public_parts_are_well_formed_distinct_and_never_keys() -> None:
    public_keys = {keyformat.generate_public() for _ in range(1000)}
    assert len(public_keys) == 1000
    for public_key in public_keys:
        assert public_key.startswith("slp_")
        assert keyformat.is_well_formed_public(public_key)
        # One form is never taken for the other: a public part is no ingest key.
        assert not keyformat.is_well_formed(public_key)
    key = keyformat.generate()
    assert not keyformat.is_well_formed_public(key)
    # Sentry's JavaScript SDKs take a DSN's user name only when it is all word characters.
    assert all(c.isalnum() or c == "_" for c in keyformat.generate_public())
