with

source as (
    {{ latest_source_rows('civil_affairs', 'social_organizations') }}
),

renamed as (
    select
        uscc,
        org_name,
        category as org_category,
        nullif(trim(incubator), '') as incubator_name,
        community_code,
        status as org_status,
        registered_date,
        _batch_id as batch_id
    from source
)

select * from renamed
