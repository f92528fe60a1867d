"""Shared warehouse plumbing: settings, connections, bootstrap, build, gate, publication.

Kept apart from `ingestion/` because both the loaders and the publication step need it,
and neither should import the other.
"""
