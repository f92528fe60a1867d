-- Headline figures on purchased services, one row per kpi_code (codes of the reporting
-- period carry its year). Definitions are in the seed ref_kpi_definitions.
with

purchase_projects as (
    select * from {{ ref('fct_service_purchase_projects') }}
),

purchase_catalog as (
    select * from {{ ref('ref_purchase_catalog') }}
),

pilot_values as (
    select
        'purchase_pilot_townships_municipal' as kpi_code,
        count(distinct township_code) filter (where pilot_level = '市级')::numeric as kpi_value
    from purchase_projects
),

catalog_values as (
    select
        'purchase_catalog_items' as kpi_code,
        count(*)::numeric as kpi_value
    from purchase_catalog
    where level = 3
),

period_values as (
    select
        'purchase_funds_{{ var("kpi_period_year") }}_wan_yuan' as kpi_code,
        coalesce(sum(contract_amount_wan_yuan), 0)::numeric as kpi_value
    from purchase_projects
    where budget_year = {{ var('kpi_period_year') }} and not is_terminated

    union all

    select
        'purchase_projects_{{ var("kpi_period_year") }}' as kpi_code,
        count(*)::numeric as kpi_value
    from purchase_projects
    where budget_year = {{ var('kpi_period_year') }} and not is_terminated
),

final as (
    select * from pilot_values
    union all
    select * from catalog_values
    union all
    select * from period_values
)

select * from final
