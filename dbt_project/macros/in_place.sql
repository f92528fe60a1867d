{#- Event facts applied in place (warehouse/incremental.py, docs/scale_plan.md). In a partial
    build the candidate's table of such a fact is a delta table: empty at the start, dbt merges
    the new batches' rows into it, and the publication's swap applies it to the published table
    in `marts`. audit.publication_in_place names the delta tables of the running build by oid,
    so a table that dbt (re)built in full is never mistaken for one. -#}

{#- The unique key column when `relation` is such a delta table, else none (also when not executing). -#}
{% macro in_place_key(relation) -%}
    {%- if not execute or relation is string or not relation.schema or not relation.identifier -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set query -%}
        select in_place.key_column
        from audit.publication_in_place as in_place
        inner join pg_class as delta_table on in_place.candidate_oid = delta_table.oid
        inner join pg_namespace as delta_schema on delta_table.relnamespace = delta_schema.oid
        where delta_schema.nspname = {{ dbt.string_literal(relation.schema) }}
            and delta_table.relname = {{ dbt.string_literal(relation.identifier) }}
        order by in_place.publication_id desc
        limit 1
    {%- endset -%}
    {%- set found = run_query(query) -%}
    {{ return(found.columns[0].values()[0] if found and found.rows | length > 0 else none) }}
{%- endmacro %}


{#- The relation an incremental fact's high-water mark is read from: the published table when
    the candidate holds only the delta (an index probe on source_batch_id), else the table itself. -#}
{% macro high_water_relation(relation) -%}
    {%- if in_place_key(relation) -%}
        {{ return(api.Relation.create(database=relation.database, schema='marts', identifier=relation.identifier)) }}
    {%- endif -%}
    {{ return(relation) }}
{%- endmacro %}


{#- What a model downstream of an event fact reads instead of a bare ref: the fact as it will be
    published. For a delta table: the published rows whose key the delta does not replace, and the
    delta's rows (the swap applies exactly that); otherwise the table itself. -#}
{% macro published_fact(fact) -%}
    {{ fact_as_published(ref(fact)) }}
{%- endmacro %}


{% macro fact_as_published(relation) -%}
    {%- set key = in_place_key(relation) -%}
    {%- if key -%}
        (
            select published_rows.*
            from marts.{{ adapter.quote(relation.identifier) }} as published_rows
            where not exists (
                select from {{ relation }} as delta_rows
                where delta_rows.{{ adapter.quote(key) }} = published_rows.{{ adapter.quote(key) }}
            )
            union all
            select delta_rows.* from {{ relation }} as delta_rows
        )
    {%- else -%}
        {{ relation }}
    {%- endif -%}
{%- endmacro %}


{#- dbt's relationships test, reading an in-place fact as it will be published (a child
    rebuilt in full must find its parent among the published rows too, not only in the delta). -#}
{% macro postgres__test_relationships(model, column_name, to, field) -%}
with child as (
    select {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
),

parent as (
    select {{ field }} as to_field
    from {{ fact_as_published(to) }} as parent_rows
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null
{%- endmacro %}
