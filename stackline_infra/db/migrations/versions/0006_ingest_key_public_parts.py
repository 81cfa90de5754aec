"""Each ingest key gets a public part, the user name of its Sentry DSN, kept in clear.

Only a hash of a key is stored, so a DSN whose user name is the key itself can be shown once.
A random public part per key, stored beside the hash, lets the API and the dashboard show each
project's DSN at any time, as Sentry does. Keys made before get one here; DSNs handed out
before (the key itself as user name) keep working, since the gateway accepts both forms.

Revision ID: 0006
Revises: 0005
"""

import secrets
import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The format as this migration writes it, copied rather than imported: a migration must write
# the same rows whatever the code around it becomes. `slp_`, 36 random base62 characters (214
# bits), the CRC32 of those as 6 base62 characters.
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _base62(value: int, width: int) -> str:
    chars = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        chars.append(_ALPHABET[digit])
    return "".join(reversed(chars))


def _public_key() -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(36))
    return "slp_" + body + _base62(zlib.crc32(body.encode()), 6)


def upgrade() -> None:
    op.add_column("ingest_keys", sa.Column("public_key", sa.String(length=48), nullable=True))
    keys = sa.table("ingest_keys", sa.column("id", sa.Uuid()), sa.column("public_key"))
    connection = op.get_bind()
    ids = connection.execute(sa.select(keys.c.id)).scalars().all()
    if ids:
        connection.execute(
            keys.update().where(keys.c.id == sa.bindparam("key_id")),
            [{"key_id": key_id, "public_key": _public_key()} for key_id in ids],
        )
    with op.batch_alter_table("ingest_keys") as batch:
        batch.alter_column("public_key", existing_type=sa.String(length=48), nullable=False)
        batch.create_unique_constraint(op.f("uq_ingest_keys_public_key"), ["public_key"])


def downgrade() -> None:
    with op.batch_alter_table("ingest_keys") as batch:
        batch.drop_constraint(op.f("uq_ingest_keys_public_key"), type_="unique")
        batch.drop_column("public_key")
