with

source as (
    {{ latest_source_rows('finance', 'fund_allocations') }}
),

renamed as (
    select
        allocation_code,
        source_department,
        purpose,
        community_code,
        amount_wan_yuan::numeric(18, 2) as amount_wan_yuan,
        allocated_date,
        _batch_id as batch_id
    from source
)

select * from renamed
