"""The shared database: engine set-up, the schema, and its Alembic migrations."""
