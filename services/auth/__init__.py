"""AuthService: who a caller is — Stackline JWTs, their public keys, ingest-key checks."""
