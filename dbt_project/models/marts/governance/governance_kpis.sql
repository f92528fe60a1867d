-- The report's headline figures, computed from the published models; never typed in.
-- Derivations: docs/kpi_derivations.md.
with

party_organizations as (
    select * from {{ ref('dim_party_organizations') }}
),

party_counts as (
    select
        case org_type
            when '街道大工委' then 'street_working_committees'
            when '城市社区区域党委' then 'community_regional_party_committees'
            when '小区(片区)党支部' then 'compound_party_branches'
            when '党员责任区' then 'party_member_responsibility_areas'
        end as kpi_code,
        count(*)::numeric as kpi_value
    from party_organizations
    where is_active
    group by org_type
),

definitions as (
    select * from (
        values
            ('street_working_committees', '街道大工委', 'organizations', 'count', 1),
            ('community_regional_party_committees', '城市社区区域党委', 'organizations', 'count', 2),
            ('compound_party_branches', '城市小区(片区)党支部', 'organizations', 'count', 3),
            ('party_member_responsibility_areas', '党员责任区', 'organizations', 'count', 4)
    ) as kpi (kpi_code, kpi_name_zh, kpi_area, unit, sort_order)
),

final as (
    select
        definitions.kpi_code,
        {{ var('kpi_period_year') }}::integer as period_year,
        definitions.kpi_name_zh,
        definitions.kpi_area,
        definitions.unit,
        coalesce(party_counts.kpi_value, 0)::numeric as kpi_value,
        definitions.sort_order
    from definitions
    left join party_counts
        on definitions.kpi_code = party_counts.kpi_code
)

select * from final
