{#- Raw feeds are append-only; later batches supersede earlier rows with the same key. -#}
{% macro latest_per_key(relation, key_columns) -%}
    select *
    from (
        select
            source_rows.*,
            row_number() over (
                partition by {{ key_columns | join(', ') }}
                order by _batch_id desc, _row_number desc
            ) as _version_rank
        from {{ relation }} as source_rows
    ) as ranked
    where _version_rank = 1
{%- endmacro %}
