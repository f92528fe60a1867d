with

source as (
    {{ latest_source_rows('community_governance', 'community_needs') }}
),

renamed as (
    select
        need_code,
        community_code,
        nullif(trim(grid_code), '') as grid_code,
        nullif(trim(matched_code), '') as matched_code,
        collection_channel,
        need_category,
        need_nature,
        need_description,
        match_type,
        need_status,
        recorded_date,
        matched_date,
        _batch_id as batch_id
    from source
)

select * from renamed
