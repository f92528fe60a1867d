{#- The months of an event fact that the delta of this build touches: those of its rows from
    batches above the high-water mark of the published marts (the latest published
    publication in audit.publications, which a rollback also records), and those of the
    published versions of the same keys (`marts`, when it exists: a corrected date moves a
    row from one month to another). For summaries incremental by month. -#}
{% macro months_touched_since_publication(fact, key_column, month_column) -%}
    {%- set published = adapter.get_relation(this.database, 'marts', fact) if execute else none -%}
    select delta_rows.{{ month_column }} as touched_month
    from {{ ref(fact) }} as delta_rows
    where delta_rows.source_batch_id > {{ published_high_water_mark() }}
    {%- if published is not none %}
    union
    select published_rows.{{ month_column }} as touched_month
    from {{ published }} as published_rows
    inner join {{ ref(fact) }} as delta_keys
        on published_rows.{{ key_column }} = delta_keys.{{ key_column }}
    where delta_keys.source_batch_id > {{ published_high_water_mark() }}
    {%- endif %}
{%- endmacro %}


{#- The newest batch of the published marts (0: nothing published yet). -#}
{% macro published_high_water_mark() -%}
    coalesce((
        select max(published_batch)
        from (
            select publications.source_batches
            from audit.publications as publications
            where publications.outcome = 'published'
            order by publications.publication_id desc
            limit 1
        ) as last_published
        cross join unnest(last_published.source_batches) as published_batch
    ), 0)
{%- endmacro %}
