"""Pulling agency extracts from remote systems into the landing folder."""
