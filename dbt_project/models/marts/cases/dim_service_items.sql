with

service_items as (
    select * from {{ ref('stg_gov_services__service_items') }}
),

departments as (
    select * from {{ ref('ref_departments') }}
),

final as (
    select
        service_items.item_code,
        service_items.department_code,
        service_items.item_name,
        departments.department_name::text as department_name,
        service_items.channels,
        service_items.cross_region_types,
        '成德眉资通办' = any(service_items.cross_region_types) as is_cross_city,
        '川渝通办' = any(service_items.cross_region_types) as is_sichuan_chongqing,
        '跨省通办' = any(service_items.cross_region_types) as is_cross_province,
        '网办' = any(service_items.channels) as is_online,
        coalesce(service_items.is_self_service_24h, false) as is_self_service_24h,
        service_items.batch_id as source_batch_id
    from service_items
    left join departments
        on service_items.department_code = departments.department_code
)

select * from final
