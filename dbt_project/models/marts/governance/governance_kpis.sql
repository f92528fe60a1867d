-- The report's headline figures, computed from the published models and reference
-- data; never typed in. Only the definition list (code, name, area, unit, order) is
-- written here. Derivations: docs/kpi_derivations.md.
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

purchase_projects as (
    select * from {{ ref('fct_service_purchase_projects') }}
),

purchase_catalog as (
    select * from {{ ref('ref_purchase_catalog') }}
),

facilities as (
    select * from {{ ref('dim_facilities') }}
),

renovations as (
    select * from {{ ref('fct_old_compound_renovations') }}
),

work_items as (
    select * from {{ ref('ref_community_work_items') }}
),

service_items as (
    select * from {{ ref('dim_service_items') }}
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

purchase_values as (
    select
        'purchase_pilot_townships_municipal' as kpi_code,
        count(distinct township_code) filter (where pilot_level = '市级')::numeric as kpi_value
    from purchase_projects

    union all

    select
        'purchase_catalog_items' as kpi_code,
        count(*)::numeric as kpi_value
    from purchase_catalog
    where level = 3

    union all

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

work_item_values as (
    select
        case list_type
            when '履职事项' then 'community_duty_items'
            when '协助事项' then 'community_assistance_items'
            when '负面事项' then 'community_negative_items'
        end as kpi_code,
        count(*)::numeric as kpi_value
    from work_items
    group by list_type
),

service_item_values as (
    select
        'service_hall_departments' as kpi_code,
        count(distinct department_code)::numeric as kpi_value
    from service_items

    union all

    select
        'government_service_items' as kpi_code,
        count(*)::numeric as kpi_value
    from service_items

    union all

    select
        'cross_city_items' as kpi_code,
        count(*) filter (where is_cross_city)::numeric as kpi_value
    from service_items

    union all

    select
        'sichuan_chongqing_items' as kpi_code,
        count(*) filter (where is_sichuan_chongqing)::numeric as kpi_value
    from service_items

    union all

    select
        'cross_province_items' as kpi_code,
        count(*) filter (where is_cross_province)::numeric as kpi_value
    from service_items
),

kpi_values as (
    select * from party_values
    union all
    select * from coverage_values
    union all
    select * from incubation_values
    union all
    select * from incubated_org_values
    union all
    select * from social_worker_values
    union all
    select * from purchase_values
    union all
    select * from facility_values
    union all
    select * from renovation_values
    union all
    select * from work_item_values
    union all
    select * from service_item_values
),

definitions as (
    select * from (
        values
        ('street_working_committees', '街道大工委', 'organizations', 'count', 1),
        ('community_regional_party_committees', '城市社区区域党委', 'organizations', 'count', 2),
        ('compound_party_branches', '城市小区(片区)党支部', 'organizations', 'count', 3),
        ('party_member_responsibility_areas', '党员责任区', 'organizations', 'count', 4),
        ('compounds_covered_by_party_org', '覆盖小区(院落)', 'organizations', 'count', 5),
        ('municipal_incubation_bases', '市级孵化基地', 'organizations', 'count', 6),
        ('county_incubation_centers', '县级孵化中心', 'organizations', 'count', 7),
        ('incubated_service_orgs', '功能服务型社区社会组织', 'organizations', 'count', 8),
        ('incubated_interest_volunteer_orgs', '兴趣爱好志愿服务型社区社会组织', 'organizations', 'count', 9),
        ('social_workers', '社工人才', 'organizations', 'count', 10),
        ('purchase_pilot_townships_municipal', '市级购买服务试点镇街', 'funding', 'count', 11),
        ('purchase_catalog_items', '购买服务指导目录事项', 'funding', 'count', 12),
        (
            'purchase_funds_{{ var("kpi_period_year") }}_wan_yuan',
            '{{ var("kpi_period_year") }}年落实购买服务资金', 'funding', '万元', 13
        ),
        (
            'purchase_projects_{{ var("kpi_period_year") }}',
            '{{ var("kpi_period_year") }}年购买服务项目', 'funding', 'count', 14
        ),
        ('elderly_care_facilities', '社区养老服务功能设施', 'facilities', 'count', 15),
        ('child_care_facilities', '儿童关爱保护设施', 'facilities', 'count', 16),
        ('party_mass_centers_renovation', '党群服务中心亲民化改造', 'facilities', 'count', 17),
        ('old_compounds_renovated', '完成老旧小区改造', 'facilities', 'count', 18),
        ('old_compound_investment_yi_yuan', '老旧小区改造投入', 'facilities', '亿元', 19),
        ('community_duty_items', '履职事项', 'governance', 'count', 20),
        ('community_assistance_items', '协助事项', 'governance', 'count', 21),
        ('community_negative_items', '负面事项', 'governance', 'count', 22),
        ('service_hall_departments', '进驻市级部门', 'cases', 'count', 23),
        ('government_service_items', '政务服务事项', 'cases', 'count', 24),
        ('cross_city_items', '成德眉资"跨市通办"事项', 'cases', 'count', 25),
        ('sichuan_chongqing_items', '"川渝通办"事项', 'cases', 'count', 26),
        ('cross_province_items', '"跨省通办"事项', 'cases', 'count', 27),
        ('neighborhood_center_companies', '东坡区邻里中心运营公司', 'facilities', 'count', 28)
    ) as kpi (kpi_code, kpi_name_zh, kpi_area, unit, sort_order)
),

final as (
    select
        definitions.kpi_code,
        {{ var('kpi_period_year') }}::integer as period_year,
        definitions.kpi_name_zh,
        definitions.kpi_area,
        definitions.unit,
        coalesce(kpi_values.kpi_value, 0)::numeric as kpi_value,
        definitions.sort_order
    from definitions
    left join kpi_values
        on definitions.kpi_code = kpi_values.kpi_code
)

select * from final
