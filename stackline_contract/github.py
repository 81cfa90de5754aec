"""GitHub's names as Stackline accepts them: `owner/repo` and commit SHAs."""

import re

# GitHub's rules: an owner is 1-39 letters, digits or single hyphens, not starting with a
# hyphen; a repository name is 1-100 letters, digits, '.', '_' and '-', and not '.' or '..'.
OWNER_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
_REPO = re.compile(rf"(?P<owner>{OWNER_PATTERN})/(?P<name>[A-Za-z0-9._-]{{1,100}})")
REPO_RULE = "a GitHub repository as owner/repo"

# An SDK may send a short SHA (`git rev-parse --short` gives 7 or more digits); a source map
# is uploaded for a full one, so that a short SHA cannot name two builds.
_SHA = re.compile(r"[0-9a-f]{7,40}")
# What a client may send, in either case (JSON Schema, so anchored).
SHA_PATTERN = r"^[0-9a-fA-F]{7,40}$"
FULL_SHA_LENGTH = 40


def normalise_repo(text: str) -> str | None:
    """`owner/repo` without surrounding space, or None when GitHub would refuse the name."""
    match = _REPO.fullmatch(text.strip())
    if match is None or match["name"] in (".", ".."):
        return None
    return f"{match['owner']}/{match['name']}"


def normalise_sha(text: str, *, full: bool = False) -> str | None:
    """The SHA in lower case (as git prints it), or None when it is not one."""
    sha = text.lower()
    if not _SHA.fullmatch(sha) or (full and len(sha) != FULL_SHA_LENGTH):
        return None
    return sha


# The same rules as JSON Schema patterns (anchored), for the API's schema: a login is an owner's
# name, and a repository's name is not "." or "..". They look ahead, so the models that use them
# validate with Python's `re` (`regex_engine="python-re"`), as normalise_repo() does.
LOGIN_PATTERN = rf"^{OWNER_PATTERN}$"
REPO_PATTERN = rf"^{OWNER_PATTERN}/(?!\.\.?$)[A-Za-z0-9._-]{{1,100}}$"
