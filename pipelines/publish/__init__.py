"""Publish: the region's tables replaced in one transaction, and the row-accounting check."""
