"""Standardise: each source's rows in the canonical person schema, and their quality suite."""
