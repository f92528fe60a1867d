{#- Lint-only stand-ins for dbt context functions the jinja templater does not provide
    (sqlfluff loads these after dbt_project/macros; dbt never reads this folder). -#}
{% macro env_var(name, default='') -%}lint-only-{{ name | lower }}{%- endmacro %}
