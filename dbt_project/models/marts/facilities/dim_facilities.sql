with

facilities as (
    select * from {{ ref('stg_civil_affairs__community_facilities') }}
),

divisions as (
    select * from {{ ref('dim_divisions') }}
),

classified as (
    select
        facilities.*,
        case
            when facilities.opening_hours like '%00:00-24:00%' and facilities.opening_hours like '%周一至周日%'
                then '7x24'
            when
                facilities.opening_hours like '%周一至周日%'
                or (facilities.opening_hours like '%周一至周五%' and facilities.opening_hours like '%周六%')
                then '5+2'
            when facilities.opening_hours like '%周一至周五%' then '5'
            when facilities.opening_hours is null then '未知'
            else '其他'
        end as opening_pattern
    from facilities
),

final as (
    select
        classified.facility_code,
        classified.community_code,
        divisions.street_code,
        divisions.county_code,
        classified.operator_uscc,
        classified.facility_name,
        classified.facility_type,
        classified.opening_hours,
        classified.opening_pattern,
        classified.opening_pattern in ('5+2', '7x24') as is_open_weekends,
        classified.renovation_status,
        classified.renovation_status in ('计划', '在建', '完工') as is_in_renovation_programme,
        classified.floor_area_m2,
        classified.opened_date,
        classified.batch_id as source_batch_id
    from classified
    left join divisions
        on classified.community_code = divisions.division_code
)

select * from final
