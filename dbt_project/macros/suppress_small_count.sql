{#- Small-count suppression for case aggregates at community and grid level: a count
    below var('suppression_min_count') (default 5) is published as null. -#}
{% macro suppress_small_count(count_expression, base_count_expression) -%}
    case
        when {{ base_count_expression }} >= {{ var('suppression_min_count') }}
            then {{ count_expression }}
    end
{%- endmacro %}
