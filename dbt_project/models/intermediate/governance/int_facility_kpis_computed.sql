-- Headline figures on facilities and old-compound renovation, one row per kpi_code,
-- counted over the whole city. Definitions are in the seed ref_kpi_definitions.
with

facilities as (
    select * from {{ ref('dim_facilities') }}
),

renovations as (
    select * from {{ ref('fct_old_compound_renovations') }}
),

facility_values as (
    select
        case facility_type
            when '社区养老服务设施' then 'elderly_care_facilities'
            when '儿童关爱保护设施' then 'child_care_facilities'
        end as kpi_code,
        count(*)::numeric as kpi_value
    from facilities
    where facility_type in ('社区养老服务设施', '儿童关爱保护设施')
    group by facility_type

    union all

    select
        'party_mass_centers_renovation' as kpi_code,
        count(*)::numeric as kpi_value
    from facilities
    where facility_type = '党群服务中心' and is_in_renovation_programme

    union all

    select
        'neighborhood_center_companies' as kpi_code,
        count(distinct operator_uscc)::numeric as kpi_value
    from facilities
    where facility_type = '邻里中心'
),

renovation_values as (
    select
        'old_compounds_renovated' as kpi_code,
        count(distinct compound_code)::numeric as kpi_value
    from renovations
    where is_completed

    union all

    select
        'old_compound_investment_yi_yuan' as kpi_code,
        round(coalesce(sum(investment_wan_yuan), 0) / 10000, 1) as kpi_value
    from renovations
    where is_completed
),

final as (
    select * from facility_values
    union all
    select * from renovation_values
)

select * from final
