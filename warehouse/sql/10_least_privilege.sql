-- Least privilege, used by the pipeline itself (applied after 00_core.sql, by the owner).
-- Loading runs as a login of gov_ingest, dbt/gate/publication as a login of gov_transform;
-- neither is a superuser. Audit tables are INSERT-only for them: a batch changes state only
-- through audit.finish_batch() (SECURITY DEFINER), checks and rejects are never updated.

-- What bootstrap applied (per unit of DDL), so an unchanged warehouse gets no DDL or GRANT at all.
create table if not exists audit.bootstrap_state (
    unit text primary key,
    fingerprint text not null,
    applied_at timestamptz not null default now()
);
comment on table audit.bootstrap_state is 'Fingerprint of the DDL last applied by bootstrap, per unit / 初始化状态';

-- Nobody but the owner and the roles below may connect or create temporary tables.
do $$
begin
    execute format('revoke connect, temporary on database %I from public', current_database());
    execute format('grant connect on database %I to gov_ingest, gov_transform, bi_reader, auditor',
                   current_database());
    -- dbt creates its schemas (staging, intermediate, reference, snapshots, the candidate) and temp tables.
    execute format('grant create, temporary on database %I to gov_transform', current_database());
end $$;
revoke create on schema public from public;

-- Raw tables are created by bootstrap (from the feed registry), never by a load.
revoke create on schema raw, audit from gov_ingest;
revoke update, truncate on all tables in schema raw from gov_ingest;
grant delete on all tables in schema raw to gov_ingest;  -- a load moves its own duplicate rows to rejects
revoke all on all tables in schema audit from gov_ingest, gov_transform, bi_reader, auditor;
grant select, insert on audit.ingestion_batches, audit.rejected_rows, audit.ingestion_warnings to gov_ingest;
grant select on audit.ingestion_batches, audit.publications to gov_transform;
grant insert, update on audit.publications to gov_transform;  -- a publication's own row: running → outcome
grant select, insert on audit.check_results to gov_transform;
grant select on all tables in schema audit to auditor;
revoke select on audit.bootstrap_state from auditor;

-- A batch is finished once, by the loader, through this function: no UPDATE grant on the table.
create or replace function audit.finish_batch(
    p_batch_id bigint, p_status text, p_rows_in integer, p_rows_loaded integer, p_rows_rejected integer,
    p_warnings integer, p_message text
) returns void
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
begin
    update audit.ingestion_batches
        set status = p_status, rows_in = p_rows_in, rows_loaded = p_rows_loaded, rows_rejected = p_rows_rejected,
            warnings = p_warnings, message = p_message, finished_at = clock_timestamp()
        where batch_id = p_batch_id
          and finished_at is null
          and (status = 'loading' or (status = 'duplicate' and p_status = 'duplicate'));
    if not found then
        raise exception 'batch % is not open: only a batch being loaded can be finished, once', p_batch_id
            using errcode = 'insufficient_privilege';
    end if;
end $$;
revoke all on function audit.finish_batch(bigint, text, integer, integer, integer, integer, text) from public;
grant execute on function audit.finish_batch(bigint, text, integer, integer, integer, integer, text) to gov_ingest;

-- BRIN summaries of the page ranges raw.<feed> holds, made by the loader before each load (as
-- the owner: summarizing needs ownership of the index). autosummarize works only where
-- autovacuum runs; without summaries every batch filter on _batch_id (the count check at commit,
-- staging's batches since the last publication) reads every unsummarized range, i.e. all history.
-- Returns how many ranges it summarized; nothing to do costs a read of the index's range map.
create or replace function audit.summarize_raw_batches(p_feed_id text) returns integer
language plpgsql security definer set search_path = pg_catalog, pg_temp as $$
declare
    batch_index regclass := to_regclass(format('raw.%I', p_feed_id || '__batch'));
begin
    if batch_index is null then
        return 0;
    end if;
    return brin_summarize_new_values(batch_index);
end $$;
revoke all on function audit.summarize_raw_batches(text) from public;
grant execute on function audit.summarize_raw_batches(text) to gov_ingest;

-- Raw is append-only: a load may move rows of its own open batch (duplicate keys, unknown
-- parents) to the rejects; rows of a finished batch are never deleted (trigger on every raw table).
create or replace function audit.raw_delete_guard() returns trigger
language plpgsql set search_path = pg_catalog, pg_temp as $$
begin
    if not exists (select 1 from audit.ingestion_batches where batch_id = old._batch_id and status = 'loading') then
        raise exception 'raw.% is append-only: rows of finished batch % cannot be deleted', tg_table_name, old._batch_id
            using errcode = 'insufficient_privilege';
    end if;
    return old;
end $$;

-- dbt's schemas belong to gov_transform (publication renames and drops them). Earlier
-- warehouses built them as the superuser: hand them over, with what they contain.
create schema if not exists marts;
do $$
declare
    schema_name text;
    rel record;
begin
    foreach schema_name in array array['marts', 'marts_candidate', 'marts_previous', 'staging', 'intermediate',
                                       'reference', 'snapshots'] loop
        continue when to_regnamespace(schema_name) is null;
        execute format('alter schema %I owner to gov_transform', schema_name);
        for rel in select c.relname, c.relkind from pg_class as c
                join pg_namespace as n on n.oid = c.relnamespace
                where n.nspname = schema_name and c.relkind in ('r', 'p', 'v', 'm')
                  and c.relowner <> 'gov_transform'::regrole loop
            execute format('alter %s %I.%I owner to gov_transform',
                           case rel.relkind when 'v' then 'view' when 'm' then 'materialized view' else 'table' end,
                           schema_name, rel.relname);
        end loop;
    end loop;
end $$;

-- Person keys: HMAC-SHA256 keyed by session settings that only warehouse.build gives dbt's
-- connections (startup options, never SQL text). The compiled SQL names this function only.
create schema if not exists pii;
comment on schema pii is 'Functions for personal information; the key lives in session settings only / 个人信息函数';
revoke all on schema pii from public;
grant usage on schema pii to gov_transform;
-- A plain SQL function, so the planner inlines it (200k keys: 2.7 s, against 5.2 s as plpgsql).
-- A session without the settings fails with "unrecognized configuration parameter gov.pii_hmac_opad".
create or replace function pii.person_key(value text) returns text
language sql stable parallel safe as $$
    select case when nullif(pg_catalog.upper(pg_catalog.btrim(value)), '') is not null then pg_catalog.encode(
        pg_catalog.sha256(pg_catalog.decode(pg_catalog.current_setting('gov.pii_hmac_opad'), 'hex')
            || pg_catalog.sha256(pg_catalog.decode(pg_catalog.current_setting('gov.pii_hmac_ipad'), 'hex')
                || pg_catalog.convert_to(pg_catalog.upper(pg_catalog.btrim(value)), 'UTF8'))), 'hex') end
$$;
revoke all on function pii.person_key(text) from public;
grant execute on function pii.person_key(text) to gov_transform;

-- Key rotation: each publication records a fingerprint of the PII key it was built with.
alter table audit.publications add column if not exists pii_key_fingerprint text;
comment on column audit.publications.pii_key_fingerprint is 'HMAC of a constant under the PII key (never the key): a change forces a full rebuild / 个人信息密钥指纹';
