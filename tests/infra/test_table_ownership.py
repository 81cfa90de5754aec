"""The ownership table of docs/architecture.md is complete, and the check against it bites."""

from __future__ import annotations

from stackline_infra.db.schema import Base
from tests.support.table_access import Recorder, accesses, documented


def test_every_table_has_a_row() -> None:
    assert set(documented()) == set(Base.metadata.tables)


def test_statements_are_read_as_their_writes_and_reads() -> None:
    assert set(
        accesses(
            "UPDATE audit_log SET actor_user_id=NULL WHERE audit_log.project_id IN "
            "(SELECT projects.id FROM projects WHERE projects.owner_id = %(id)s)"
        )
    ) == {("writes", "audit_log"), ("reads", "projects")}
    assert set(
        accesses(
            "INSERT INTO events (id) SELECT id FROM json_to_recordset(CAST(%(rows)s AS json))"
            " AS r(id uuid) ON CONFLICT DO UPDATE SET id = excluded.id"
        )
    ) == {("writes", "events")}
    assert set(
        accesses("SELECT incidents.id FROM incidents JOIN projects ON true FOR UPDATE OF incidents")
    ) == {("reads", "incidents"), ("reads", "projects")}


def test_an_undeclared_access_is_reported() -> None:
    recorder = Recorder()
    recorder.seen[("incidents", "writes", "events")] = "DELETE FROM events WHERE true"
    recorder.seen[("ingest", "reads", "projects")] = "SELECT projects.id FROM projects"
    recorder.seen[("projects", "reads", "users")] = "SELECT users.id FROM users"
    assert recorder.violations(documented()) == [
        "incidents writes events, undeclared: DELETE FROM events WHERE true",
        "projects reads users, undeclared: SELECT users.id FROM users",
    ]


def test_an_audit_entry_written_outside_a_repository_is_reported() -> None:
    recorder = Recorder()
    insert = "INSERT INTO audit_log (id, action) VALUES (%(id)s, %(action)s)"
    recorder.seen[("projects", "writes", "audit_log")] = insert
    recorder.writers[("services.projects.repository", "audit_log")] = insert
    recorder.writers[("services.ingest.retention_repository", "audit_log")] = insert
    assert recorder.violations(documented()) == []
    recorder.writers[("services.projects.service", "audit_log")] = insert
    assert recorder.violations(documented()) == [
        "services.projects.service writes audit_log, not through a repository: " + insert
    ]
