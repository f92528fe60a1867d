with

source as (
    {{ latest_source_rows('housing', 'old_compound_renovations') }}
),

renamed as (
    select
        project_code,
        compound_code,
        components,
        status as renovation_status,
        investment_wan_yuan::numeric(18, 2) as investment_wan_yuan,
        started_date,
        completed_date,
        _batch_id as batch_id
    from source
)

select * from renamed
