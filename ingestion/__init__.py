"""Ingestion: feed contracts, readers, validation, loading into `raw`, rejects, archive.

Stages import downwards only:
registry → read → validate → encode (COPY text, fast paths) → fastrow / keys / spill
→ copyrows (the hot loop) → load (one batch, one transaction) → intake (landing folders; rules in landing) → CLI.
"""
