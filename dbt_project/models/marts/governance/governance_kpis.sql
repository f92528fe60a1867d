-- The report's headline figures: definitions from the seed ref_kpi_definitions (never
-- typed in here), values computed per area from the published models and reference
-- data. `{year}` in a definition stands for the reporting period.
-- Derivations: docs/kpi_derivations.md.
with

definitions as (
    select * from {{ ref('ref_kpi_definitions') }}
),

organization_kpis as (
    select * from {{ ref('int_organization_kpis_computed') }}
),

funding_kpis as (
    select * from {{ ref('int_funding_kpis_computed') }}
),

facility_kpis as (
    select * from {{ ref('int_facility_kpis_computed') }}
),

service_kpis as (
    select * from {{ ref('int_service_kpis_computed') }}
),

kpi_values as (
    select * from organization_kpis
    union all
    select * from funding_kpis
    union all
    select * from facility_kpis
    union all
    select * from service_kpis
),

period_definitions as (
    select
        replace(kpi_code, '{year}', '{{ var("kpi_period_year") }}') as kpi_code,
        {{ var('kpi_period_year') }}::integer as period_year,
        replace(kpi_name_zh, '{year}', '{{ var("kpi_period_year") }}') as kpi_name_zh,
        replace(kpi_name_en, '{year}', '{{ var("kpi_period_year") }}') as kpi_name_en,
        kpi_area,
        scope,
        unit,
        sort_order
    from definitions
),

final as (
    select
        period_definitions.kpi_code,
        period_definitions.period_year,
        period_definitions.kpi_name_zh,
        period_definitions.kpi_name_en,
        period_definitions.kpi_area,
        period_definitions.scope,
        period_definitions.unit,
        coalesce(kpi_values.kpi_value, 0)::numeric as kpi_value,
        period_definitions.sort_order
    from period_definitions
    left join kpi_values
        on period_definitions.kpi_code = kpi_values.kpi_code
)

select * from final
