{#- In an incremental run, read only rows from batches newer than the newest already
    in the target table (the batch high-water mark); a full build reads everything.
    When the target is the delta table of a fact applied in place (macros/in_place.sql),
    the newest batch is the published table's. -#}
{% macro newer_batches_only(batch_column='batch_id') -%}
    {% if is_incremental() %}
        where {{ batch_column }} > (select coalesce(max(existing.source_batch_id), 0)
                                    from {{ high_water_relation(this) }} as existing)
    {% endif %}
{%- endmacro %}
