-- How long each phase of a publication took (prepare candidate, dbt build and its start-up,
-- reconcile, pii scan, GX, freshness, swap, snapshot, report): the cost of a publication,
-- visible per attempt to whoever asks why a build was slow.
-- Idempotent; applied after 60_publication_versions.sql by `warehouse.bootstrap.bootstrap()`.

alter table audit.publications add column if not exists phase_seconds jsonb;
comment on column audit.publications.phase_seconds is 'Seconds per phase of the attempt, in the order they ran / 各阶段耗时（秒）';
