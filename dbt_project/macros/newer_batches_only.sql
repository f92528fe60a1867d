{#- In an incremental run, read only rows from batches newer than the newest already
    in the target table (the batch high-water mark); a full build reads everything. -#}
{% macro newer_batches_only(batch_column='batch_id') -%}
    {% if is_incremental() %}
        where {{ batch_column }} > (select coalesce(max(existing.source_batch_id), 0) from {{ this }} as existing)
    {% endif %}
{%- endmacro %}
