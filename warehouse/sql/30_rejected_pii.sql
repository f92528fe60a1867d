-- Rejected rows without clear personal information. audit.rejected_rows (read by auditors)
-- keeps the row, the reason and the original values, but values of columns the feed spec
-- marks pii are masked there; the clear values, needed to correct and redeliver a row, are
-- kept in audit.rejected_values_clear, which only the data steward role reads.

do $$
begin
    if not exists (select 1 from pg_roles where rolname = 'data_steward') then
        create role data_steward nologin;
    end if;
exception when unique_violation or duplicate_object then
    null;  -- another database of the cluster created it at the same moment
end $$;

create table if not exists audit.rejected_values_clear (
    batch_id bigint not null references audit.ingestion_batches (batch_id),
    row_number integer not null,
    original_values jsonb not null,
    primary key (batch_id, row_number)
);
comment on table audit.rejected_values_clear is 'Clear original values of rejected rows that hold personal information; data steward only / 拒收记录原值（含个人信息，仅数据管理员）';

revoke all on audit.rejected_values_clear from public, auditor, bi_reader, gov_transform;
grant insert on audit.rejected_values_clear to gov_ingest;
grant usage on schema audit to data_steward;
grant select on audit.rejected_values_clear, audit.rejected_rows, audit.ingestion_batches to data_steward;
do $$
begin
    execute format('grant connect on database %I to data_steward', current_database());
end $$;
