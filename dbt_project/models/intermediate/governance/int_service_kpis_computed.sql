-- Headline figures on community work items and government services, one row per
-- kpi_code. Definitions are in the seed ref_kpi_definitions.
with

work_items as (
    select * from {{ ref('ref_community_work_items') }}
),

service_items as (
    select * from {{ ref('dim_service_items') }}
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

final as (
    select * from work_item_values
    union all
    select * from service_item_values
)

select * from final
