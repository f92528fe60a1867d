"""Shared DAG building blocks: assets, the landing-folder watcher, default_args."""
