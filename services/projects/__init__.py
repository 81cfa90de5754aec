"""ProjectsService: projects mapped to GitHub repositories, and their ingest keys."""
