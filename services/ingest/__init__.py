"""IngestService: validated events in, stored events and their incidents out."""
