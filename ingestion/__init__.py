"""Ingestion: feed contracts, readers, validation, loading into `raw`, rejects, archive.

Stages import downwards only: registry → read → validate → load → pipeline → CLI.
"""
