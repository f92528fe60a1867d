-- Headline figures on party and social organisations, one row per kpi_code.
-- Definitions (names, units, order) are in the seed ref_kpi_definitions.
with

party_organizations as (
    select * from {{ ref('dim_party_organizations') }}
),

residential_compounds as (
    select * from {{ ref('dim_residential_compounds') }}
),

social_organizations as (
    select * from {{ ref('dim_social_organizations') }}
),

social_workforce as (
    select * from {{ ref('social_workforce_by_county') }}
),

party_values as (
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

coverage_values as (
    select
        'compounds_covered_by_party_org' as kpi_code,
        count(*)::numeric as kpi_value
    from residential_compounds
    where is_covered_by_party_org
),

incubation_values as (
    select
        case incubator_level
            when '市级' then 'municipal_incubation_bases'
            when '县级' then 'county_incubation_centers'
        end as kpi_code,
        count(distinct incubator_name)::numeric as kpi_value
    from social_organizations
    where incubator_level in ('市级', '县级')
    group by incubator_level
),

incubated_org_values as (
    select
        case org_category
            when '功能服务型' then 'incubated_service_orgs'
            when '兴趣爱好志愿服务型' then 'incubated_interest_volunteer_orgs'
        end as kpi_code,
        count(*)::numeric as kpi_value
    from social_organizations
    where is_active and is_incubated and org_category in ('功能服务型', '兴趣爱好志愿服务型')
    group by org_category
),

social_worker_values as (
    select
        'social_workers' as kpi_code,
        coalesce(sum(social_workers), 0)::numeric as kpi_value
    from social_workforce
),

final as (
    select * from party_values
    union all
    select * from coverage_values
    union all
    select * from incubation_values
    union all
    select * from incubated_org_values
    union all
    select * from social_worker_values
)

select * from final
