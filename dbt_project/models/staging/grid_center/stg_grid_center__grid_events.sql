with

source as (
    {{ latest_source_rows('grid_center', 'grid_events') }}
),

renamed as (
    select
        event_id,
        grid_code,
        community_code,
        category as event_category,
        status as event_status,
        coalesce(escalations, '[]'::jsonb) as escalations,
        reported_at,
        closed_at,
        _batch_id as batch_id
    from source
)

select * from renamed
