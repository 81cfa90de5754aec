"""Migrations that have landed are never edited again: a database that already ran one would
never see the edit. A schema change is a new migration, tested from the previous head.

When a new migration lands, its digest is added here; editing a listed one fails this test.
"""

from __future__ import annotations

import hashlib

from stackline_infra.db.migrate import MIGRATIONS_DIR

LANDED = {
    "0001_initial_schema.py": "65cb19dbae11587ac53e9d553600dc2390e6f2a9d0fe8c8f81fbf2e5786c4a84",
    "0002_event_causes.py": "8674a279c3526611d5ffb0bdb12fd2f0ec2a92ea3b99be237b3037494db9baf3",
    "0003_releases.py": "ac7545488a09a74253bdd34162211acf545392a20f487335e21aa5d4947870f4",
    "0004_retention_indexes.py": "869c8c6d7c59b6fb70baa11be37b9fc3251e59f9d3f10caa0930adabc3f34239",
    "0005_events_by_week.py": "74ac16ab52bdb5cee621490759a73707b39f21192f1cfc62f6693a710bb406c5",
}


def test_landed_migrations_are_unchanged() -> None:
    for name, digest in LANDED.items():
        text = (MIGRATIONS_DIR / "versions" / name).read_bytes()
        assert hashlib.sha256(text).hexdigest() == digest, (
            f"{name} has landed and must not change: write a new migration instead"
        )
