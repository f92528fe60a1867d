"""Airflow DAGs of the governance warehouse (orchestration only; see README.md)."""
