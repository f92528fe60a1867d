{#- Indexes an incremental table keeps (a post-hook). Each is named as PostgreSQL names an
    unnamed index (<table>_<columns>_idx), so the copy the candidate starts from (create
    table … like … including all) already has it under the same name and nothing is built twice. -#}
{% macro create_fact_indexes(column_lists) -%}
    {#- The delta table of a fact applied in place (macros/in_place.sql) gets none: it is small,
        and its indexes would collide by name with the published table's when the swap moves it. -#}
    {%- if in_place_key(this) -%}{{ return('') }}{%- endif -%}
    {%- for columns in column_lists %}
        create index if not exists {{ this.identifier }}_{{ columns | join('_') }}_idx
            on {{ this }} ({{ columns | join(', ') }});
    {%- endfor %}
{%- endmacro %}
