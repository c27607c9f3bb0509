"""Ingest: pulling extracts into the landing folder, reading each newest file (every row kept or
quarantined), and the checks on the files read."""
