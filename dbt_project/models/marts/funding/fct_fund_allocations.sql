with

allocations as (
    select * from {{ ref('stg_finance__fund_allocations') }}
),

divisions as (
    select * from {{ ref('dim_divisions') }}
),

final as (
    select
        allocations.allocation_code,
        allocations.community_code,
        divisions.street_code,
        divisions.county_code,
        allocations.source_department,
        allocations.purpose,
        extract(year from allocations.allocated_date)::integer as allocation_year,
        allocations.amount_wan_yuan,
        allocations.allocated_date,
        allocations.batch_id as source_batch_id
    from allocations
    left join divisions
        on allocations.community_code = divisions.division_code
)

select * from final
