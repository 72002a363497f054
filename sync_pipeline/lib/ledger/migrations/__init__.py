"""Forward-only schema migrations: `NNNN_name.sql`, applied in order, recorded in schema_version."""
