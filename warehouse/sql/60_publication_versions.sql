-- Publication versions and lineage: rollback to the kept previous version, what each
-- publication was built from, and rows per mart for the auditors' report site.
-- Idempotent; applied after 00_core.sql by `warehouse.bootstrap.bootstrap()`.

-- A rollback is a new row (never an update of an old one): outcome 'published',
-- build_mode 'rollback', the restored publication's source batches and fingerprint (so the
-- next build plans against what is really in `marts`), who asked and why.
do $$
begin
    if not exists (select 1 from pg_constraint where conname = 'publications_build_mode_check'
                   and conrelid = 'audit.publications'::regclass
                   and pg_get_constraintdef(oid) like '%rollback%') then
        alter table audit.publications drop constraint if exists publications_build_mode_check;
        alter table audit.publications add constraint publications_build_mode_check
            check (build_mode in ('full', 'partial', 'rollback'));
    end if;
end $$;
alter table audit.publications add column if not exists restores_publication bigint
    references audit.publications (publication_id);
alter table audit.publications add column if not exists requested_by text;
alter table audit.publications add column if not exists requested_by_os text;
alter table audit.publications add column if not exists reason text;
comment on column audit.publications.restores_publication is 'A rollback: the publication whose marts it republished / 回滚恢复的发布';
comment on column audit.publications.requested_by is 'A rollback: the database role that ran it (current_user) / 操作数据库角色';
comment on column audit.publications.requested_by_os is 'A rollback: the operating-system user that ran it / 操作系统用户';
comment on column audit.publications.reason is 'A rollback: why, as the operator wrote it / 回滚原因';

-- What a publication was built from: one row per attempt, written when it starts.
create table if not exists audit.publication_lineage (
    publication_id bigint primary key references audit.publications (publication_id),
    git_commit text,
    git_dirty boolean,
    versions jsonb not null default '{}',
    inputs jsonb not null default '[]',
    recorded_at timestamptz not null default clock_timestamp()
);
comment on table audit.publication_lineage is 'Per publication: git commit of the project, dbt/GX/Airflow/PostgreSQL versions, input batches with file and sha256 / 发布血缘';
comment on column audit.publication_lineage.git_commit is 'git commit of the project (null: not a git checkout) / 代码版本';
comment on column audit.publication_lineage.git_dirty is 'The checkout had uncommitted changes / 有未提交修改';
comment on column audit.publication_lineage.versions is 'Package and server versions that built it / 组件版本';
comment on column audit.publication_lineage.inputs is 'Input batches: [{batch_id, feed_id, file_name, sha256}] / 输入批次';

-- Rows per mart of each published version (or of the blocked candidate), for the trend charts.
create table if not exists audit.publication_mart_rows (
    publication_id bigint not null references audit.publications (publication_id),
    mart text not null,
    row_count bigint not null check (row_count >= 0),
    source_feeds text[],
    primary key (publication_id, mart)
);
comment on table audit.publication_mart_rows is 'Rows per mart of a publication (the candidate, if it was blocked) and the feeds it is built from / 各集市行数与来源';
comment on column audit.publication_mart_rows.source_feeds is 'Raw feeds the mart is built from (dbt manifest; null: graph unknown) / 来源数据';

-- Which publication's marts `marts` and `marts_previous` hold, written in the swap's transaction
-- (the newest row per schema counts); a rollback reads it to know what it restores.
create table if not exists audit.marts_versions (
    version_id bigint generated always as identity primary key,
    schema_name text not null,
    publication_id bigint references audit.publications (publication_id),
    swapped_at timestamptz not null default clock_timestamp()
);
comment on table audit.marts_versions is 'After each swap: the publication whose marts each schema (marts, marts_previous) holds; newest row counts / 数据集市版本';

grant select, insert on audit.marts_versions to gov_transform;
grant select on audit.marts_versions to auditor;
grant select, insert on audit.publication_lineage, audit.publication_mart_rows to gov_transform;
grant select on audit.publication_lineage, audit.publication_mart_rows to auditor;
-- The report site is rebuilt by the publication step (the transform login): it shows rejects per feed and
-- rule. audit.rejected_rows holds pii columns masked (clear values are in audit.rejected_values_clear,
-- data_steward only), so reading it gives the transform login nothing personal.
grant select on audit.rejected_rows, audit.ingestion_warnings to gov_transform;
