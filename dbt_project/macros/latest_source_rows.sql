{#- Latest version per key of a raw feed. The key is the feed's (ingestion/specs), carried
    into the generated sources file as meta.key; staging models name no key of their own.
    A feed that has never been loaded has no raw table yet (ingestion creates it on first
    load): then an empty, correctly typed row set is returned, built from the column data
    types declared in the sources YAML. In an incremental run of the calling model
    (a staging table merged on the feed's key) only batches newer than the model's own
    batch high-water mark are ranked; a full build ranks every raw row. -#}
{% macro latest_source_rows(source_name, table_name, incremental_batch_column=none) -%}
    {%- set relation = source(source_name, table_name) -%}
    {%- if not execute -%}
        select * from {{ relation }}
    {%- elif adapter.get_relation(relation.database, relation.schema, relation.identifier) is none -%}
        {{ empty_source_rows(source_name, table_name) }}
    {%- else -%}
        {%- set batch_filter = none -%}
        {%- if incremental_batch_column and is_incremental() -%}
            {%- set batch_filter = "> (select coalesce(max(existing." ~ incremental_batch_column
                ~ "), 0) from " ~ this ~ " as existing)" -%}
        {%- endif -%}
        {{ latest_per_key(relation, source_key(source_name, table_name), batch_filter) }}
    {%- endif -%}
{%- endmacro %}


{% macro source_node(source_name, table_name) -%}
    {%- set node = graph.sources.values()
        | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name)
        | first -%}
    {{ return(node) }}
{%- endmacro %}


{% macro source_key(source_name, table_name) -%}
    {%- set node = source_node(source_name, table_name) -%}
    {%- set key = node.config.meta.get('key') or node.meta.get('key') -%}
    {%- if not key -%}
        {{ exceptions.raise_compiler_error(
            "source " ~ source_name ~ "." ~ table_name ~ " has no meta.key: run `python -m ingestion dbt-sources`") }}
    {%- endif -%}
    {{ return(key) }}
{%- endmacro %}


{% macro empty_source_rows(source_name, table_name) -%}
    {%- set node = source_node(source_name, table_name) -%}
    select
    {%- for column in node.columns.values() %}
        null::{{ column.data_type }} as {{ column.name }},
    {%- endfor %}
        null::jsonb as _extra,
        null::bigint as _batch_id,
        null::integer as _row_number,
        null::timestamptz as _loaded_at,
        1::bigint as _version_rank
    where false
{%- endmacro %}
