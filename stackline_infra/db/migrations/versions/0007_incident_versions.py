"""The incident list answered in index order, and a per-project version that a poll checks
without reading the list.

`incident_versions` holds a number per project, raised by triggers on `incidents` in the
transaction of every change to them, whoever makes it (ingest creating and counting, a user's
triage, retention removing), so the list's ETag is known without reading the list. The number
is the sum of up to 16 shards: a transaction raises the shard of its database connection, so
concurrent writers to one project do not queue for one row.

On PostgreSQL a statement trigger notes which projects a statement touched (in a transaction-
local setting) and a deferred trigger raises their versions once, at commit, in project order:
concurrent ingest transactions then lock version rows in one order, after every incident row
they lock, and cannot deadlock over them; and a shard is held only for the commit itself.
SQLite has one writer at a time, so a plain row trigger raises shard 0.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The transaction-local setting stackline.incident_projects lists the projects noted so far.
_POSTGRES_UP = """
CREATE FUNCTION stackline_note_incident_projects() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    noted text := coalesce(current_setting('stackline.incident_projects', true), '');
    grown boolean := false;
    project text;
BEGIN
    -- Ingest updates a batch's incidents one statement each, mostly of projects already
    -- noted: the setting is written only when a project is new to it. (A uuid's text has no
    -- comma, so a match is that project.)
    FOR project IN SELECT DISTINCT project_id::text FROM changed LOOP
        IF strpos(noted, project) = 0 THEN
            noted := noted || ',' || project;
            grown := true;
        END IF;
    END LOOP;
    IF grown THEN
        PERFORM set_config('stackline.incident_projects', noted, true);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION stackline_raise_incident_versions() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched text := nullif(current_setting('stackline.incident_projects', true), '');
BEGIN
    -- The first of the transaction's deferred calls raises every noted project; the rest
    -- find nothing noted.
    IF touched IS NOT NULL THEN
        PERFORM set_config('stackline.incident_projects', '', true);
        -- A project removed in this transaction (its incidents went with it) is skipped.
        INSERT INTO incident_versions AS v (project_id, shard, version)
        SELECT p.id, pg_backend_pid() % 16, 1 FROM projects p
        WHERE p.id = ANY (CAST(string_to_array(ltrim(touched, ','), ',') AS uuid[]))
        ORDER BY p.id
        ON CONFLICT (project_id, shard) DO UPDATE SET version = v.version + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER incidents_note_inserted AFTER INSERT ON incidents
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION stackline_note_incident_projects();
CREATE TRIGGER incidents_note_updated AFTER UPDATE ON incidents
    REFERENCING NEW TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION stackline_note_incident_projects();
CREATE TRIGGER incidents_note_deleted AFTER DELETE ON incidents
    REFERENCING OLD TABLE AS changed
    FOR EACH STATEMENT EXECUTE FUNCTION stackline_note_incident_projects();
CREATE CONSTRAINT TRIGGER incidents_raise_versions
    AFTER INSERT OR UPDATE OR DELETE ON incidents
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION stackline_raise_incident_versions();
"""

_POSTGRES_DOWN = """
DROP TRIGGER incidents_raise_versions ON incidents;
DROP TRIGGER incidents_note_deleted ON incidents;
DROP TRIGGER incidents_note_updated ON incidents;
DROP TRIGGER incidents_note_inserted ON incidents;
DROP FUNCTION stackline_raise_incident_versions();
DROP FUNCTION stackline_note_incident_projects();
"""


# The project's existence is checked because a project's removal takes its incidents with it,
# and a version row for it would break the foreign key.
_SQLITE_UP = (
    """
CREATE TRIGGER incidents_raise_version_on_insert AFTER INSERT ON incidents
BEGIN
    INSERT INTO incident_versions (project_id, shard, version)
    SELECT NEW.project_id, 0, 1 WHERE EXISTS (SELECT 1 FROM projects WHERE id = NEW.project_id)
    ON CONFLICT (project_id, shard) DO UPDATE SET version = version + 1;
END
""",
    """
CREATE TRIGGER incidents_raise_version_on_update AFTER UPDATE ON incidents
BEGIN
    INSERT INTO incident_versions (project_id, shard, version)
    SELECT NEW.project_id, 0, 1 WHERE EXISTS (SELECT 1 FROM projects WHERE id = NEW.project_id)
    ON CONFLICT (project_id, shard) DO UPDATE SET version = version + 1;
END
""",
    """
CREATE TRIGGER incidents_raise_version_on_delete AFTER DELETE ON incidents
BEGIN
    INSERT INTO incident_versions (project_id, shard, version)
    SELECT OLD.project_id, 0, 1 WHERE EXISTS (SELECT 1 FROM projects WHERE id = OLD.project_id)
    ON CONFLICT (project_id, shard) DO UPDATE SET version = version + 1;
END
""",
)

_SQLITE_DOWN = (
    "DROP TRIGGER incidents_raise_version_on_insert",
    "DROP TRIGGER incidents_raise_version_on_update",
    "DROP TRIGGER incidents_raise_version_on_delete",
)


def upgrade() -> None:
    op.create_table(
        "incident_versions",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("shard", sa.SmallInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_incident_versions_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "shard", name=op.f("pk_incident_versions")),
    )
    op.create_index(
        op.f("ix_incidents_project_last_seen"), "incidents", ["project_id", "last_seen", "id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_UP)
    else:
        for statement in _SQLITE_UP:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_DOWN)
    else:
        for statement in _SQLITE_DOWN:
            op.execute(statement)
    op.drop_index(op.f("ix_incidents_project_last_seen"), table_name="incidents")
    op.drop_table("incident_versions")
