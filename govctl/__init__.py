"""The platform's own command line: build → gate → publish, the demo, and (for operators)
what spans ingestion and publication. Ingestion-only commands stay in `python -m ingestion`.

The top layer: it may import every other package; nothing imports it.
"""
