-- Event facts applied in place (warehouse/incremental.py, warehouse/publish.py): in a partial
-- build such a fact is not copied into the candidate; the candidate holds only the delta (an
-- empty table of the same columns that dbt merges the new rows into) and the swap applies it to
-- the published table, keeping the replaced rows in `marts_previous` for rollback. One row per
-- publication and fact, written when the candidate is prepared (candidate_oid names the delta
-- table dbt sees: macros/in_place.sql) and completed in the swap's transaction (applied_at).
-- Idempotent; applied after 80_marts_partitions.sql by `warehouse.bootstrap.bootstrap()`.
create table if not exists audit.publication_in_place (
    publication_id bigint not null references audit.publications (publication_id),
    mart text not null,
    key_column text not null,
    month_column text,
    candidate_oid oid not null,
    delta_rows bigint,
    replaced_rows bigint,
    applied_at timestamptz,
    primary key (publication_id, mart)
);
comment on table audit.publication_in_place is 'Facts a publication applied in place (delta merged into the published table in the swap) / 原地发布的事实表';
comment on column audit.publication_in_place.candidate_oid is 'The candidate''s delta table while the build runs / 候选增量表';
comment on column audit.publication_in_place.delta_rows is 'Rows inserted by the swap / 插入行数';
comment on column audit.publication_in_place.replaced_rows is 'Published rows of the same keys, moved to marts_previous.<mart>__undo / 被替换行数';
comment on column audit.publication_in_place.applied_at is 'When the swap applied it (null: blocked or not swapped) / 应用时间';
grant select, insert, update on audit.publication_in_place to gov_transform;
grant select on audit.publication_in_place to auditor;
