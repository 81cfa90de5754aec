"""Where errors are caught without the app asking: hooks, logging, and request middleware."""
