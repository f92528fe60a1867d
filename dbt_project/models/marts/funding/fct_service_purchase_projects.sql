with

projects as (
    select * from {{ ref('stg_finance__service_purchase_projects') }}
),

catalog as (
    select * from {{ ref('ref_purchase_catalog') }}
),

divisions as (
    select * from {{ ref('dim_divisions') }}
),

final as (
    select
        projects.project_code,
        projects.township_code,
        divisions.county_code,
        projects.catalog_code,
        catalog_group.catalog_code::text as catalog_group_code,
        catalog_area.catalog_code::text as catalog_area_code,
        projects.provider_uscc,
        projects.project_name,
        catalog_item.item_name::text as catalog_item_name,
        catalog_area.item_name::text as catalog_area_name,
        projects.pilot_level,
        projects.budget_year,
        projects.project_status,
        projects.project_status = '终止' as is_terminated,
        projects.contract_amount_wan_yuan,
        projects.start_date,
        projects.end_date,
        projects.batch_id as source_batch_id
    from projects
    left join catalog as catalog_item
        on projects.catalog_code = catalog_item.catalog_code
    left join catalog as catalog_group
        on catalog_item.parent_code = catalog_group.catalog_code
    left join catalog as catalog_area
        on catalog_group.parent_code = catalog_area.catalog_code
    left join divisions
        on projects.township_code = divisions.division_code
)

select * from final
