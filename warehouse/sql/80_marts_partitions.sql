-- Monthly partitions of the event facts (dbt_project/macros/partition_by_month.sql). The
-- parents live in marts / marts_candidate / marts_previous, which publication renames; the
-- partitions live here, a schema that is never renamed. No BI role gets USAGE: the only way
-- to the rows is through the parent, where row-level security and grants apply.
create schema if not exists marts_partitions;
alter schema marts_partitions owner to gov_transform;
revoke all on schema marts_partitions from public;
comment on schema marts_partitions is
    'Monthly partitions of the event facts; read them through their parent in marts / 事实表按月分区（仅经由 marts 中的父表读取）';
