with

social_organizations as (
    select * from {{ ref('stg_civil_affairs__social_organizations') }}
),

platforms as (
    select * from {{ ref('ref_incubation_platforms') }}
),

divisions as (
    select * from {{ ref('dim_divisions') }}
),

final as (
    select
        social_organizations.uscc,
        social_organizations.community_code,
        divisions.street_code,
        divisions.county_code,
        social_organizations.org_name,
        social_organizations.org_category,
        social_organizations.incubator_name,
        platforms.level::text as incubator_level,
        platforms.county_code::text as incubator_division_code,
        social_organizations.org_status,
        social_organizations.org_status = '正常' as is_active,
        social_organizations.incubator_name is not null as is_incubated,
        social_organizations.registered_date,
        social_organizations.batch_id as source_batch_id
    from social_organizations
    left join platforms
        on social_organizations.incubator_name = platforms.platform_name
    left join divisions
        on social_organizations.community_code = divisions.division_code
)

select * from final
