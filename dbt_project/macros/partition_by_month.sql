{#- Monthly native partitioning of the event facts (docs/scale_plan.md). The parent lives in the
    marts schema (renamed by publication); its partitions live in `marts_partitions`, a schema that
    is never renamed and that no BI role can use, named <fact>_<yyyymm>_<parent oid> so that the
    candidate's and the published parent's partitions never collide. Models opt in with
    meta={'partition_by_month': '<month column>'}. -#}

{#- PL/pgSQL statements (for a DO block with `parent regclass` declared): one partition per month
    present in `source`, created if missing, plus the default partition (a null or unexpected
    month lands there instead of failing the load; the gate can flag it). -#}
{% macro month_partition_statements(column, source) -%}
    for month_start in select distinct date_trunc('month', {{ column }})::date from {{ source }}
            where {{ column }} is not null order by 1 loop
        execute format('create table if not exists marts_partitions.%I partition of %s for values from (%L) to (%L)',
                       format('%s_%s_%s', relation_name, to_char(month_start, 'YYYYMM'), parent::oid),
                       parent, month_start, (month_start + interval '1 month')::date);
    end loop;
    execute format('create table if not exists marts_partitions.%I partition of %s default',
                   format('%s_default_%s', relation_name, parent::oid), parent);
{%- endmacro %}


{#- Post-hook: turn the table dbt has just built in full into a partitioned one (primary key
    (key, month)). On an incremental run the table is already partitioned and this does nothing. -#}
{% macro partition_by_month(column, key) -%}
{%- set unpartitioned = this.identifier ~ '__unpartitioned' -%}
do $partition$
declare
    parent regclass;
    relation_name text := {{ dbt.string_literal(this.identifier) }};
    month_start date;
    table_comment text;
begin
    if (select relkind from pg_class where oid = {{ dbt.string_literal(this) }}::regclass) <> 'r' then
        return;
    end if;
    -- The delta table of a fact applied in place stays a plain table (macros/in_place.sql).
    if exists (select from audit.publication_in_place
               where candidate_oid = {{ dbt.string_literal(this) }}::regclass::oid) then
        return;
    end if;
    table_comment := obj_description({{ dbt.string_literal(this) }}::regclass, 'pg_class');
    alter table {{ this }} rename to {{ adapter.quote(unpartitioned) }};
    create table {{ this }} (
        like {{ this.schema }}.{{ adapter.quote(unpartitioned) }} including defaults including constraints including comments
    ) partition by range ({{ column }});
    parent := {{ dbt.string_literal(this) }}::regclass;
    {{ month_partition_statements(column, this.schema ~ '.' ~ adapter.quote(unpartitioned)) }}
    insert into {{ this }} select * from {{ this.schema }}.{{ adapter.quote(unpartitioned) }};
    drop table {{ this.schema }}.{{ adapter.quote(unpartitioned) }};
    alter table {{ this }} add constraint {{ adapter.quote(this.identifier ~ '_pkey') }} primary key ({{ key }}, {{ column }});
    if table_comment is not null then
        execute format('comment on table %s is %L', parent, table_comment);
    end if;
end $partition$
{%- endmacro %}


{#- Incremental merge: create the partitions of the delta's months before dbt's merge (merged on
    the key alone, so a key is never inserted twice; a key's month does not change in these feeds).
    A delta table applied in place is not partitioned: the swap creates the months' partitions
    in the published table (warehouse/publish.py). -#}
{% macro postgres__get_incremental_merge_sql(arg_dict) -%}
{%- set column = (config.get('meta') or {}).get('partition_by_month') -%}
{%- if column %}
do $partition$
declare
    parent regclass := {{ dbt.string_literal(arg_dict['target_relation']) }}::regclass;
    relation_name text := {{ dbt.string_literal(arg_dict['target_relation'].identifier) }};
    month_start date;
begin
    if (select relkind from pg_class where oid = parent) = 'p' then
        {{ month_partition_statements(column, arg_dict['temp_relation']) }}
    end if;
end $partition$;
{%- endif %}
{{ default__get_incremental_merge_sql(arg_dict) }}
{%- endmacro %}
