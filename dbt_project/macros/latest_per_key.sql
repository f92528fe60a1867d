{#- Raw feeds are append-only; later batches supersede earlier rows with the same key.
    `batch_filter` (SQL on _batch_id) ranks only those rows: an incremental staging model
    passes "newer than my high-water mark", whose latest version per key is the latest of
    all (a later batch always supersedes), so the ranking costs the delta, not the history. -#}
{% macro latest_per_key(relation, key_columns, batch_filter=none) -%}
    select *
    from (
        select
            source_rows.*,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by _batch_id desc, _row_number desc
            ) as _version_rank
        from {{ relation }} as source_rows
        {%- if batch_filter %}
        where source_rows._batch_id {{ batch_filter }}
        {%- endif %}
    ) as ranked
    where _version_rank = 1
{%- endmacro %}
