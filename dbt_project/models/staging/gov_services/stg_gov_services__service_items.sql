with

source as (
    {{ latest_source_rows('gov_services', 'service_items') }}
),

renamed as (
    select
        item_code,
        item_name,
        department_code,
        coalesce(channels, '{}'::text[]) as channels,
        coalesce(cross_region_types, '{}'::text[]) as cross_region_types,
        self_service_24h as is_self_service_24h,
        _batch_id as batch_id
    from source
)

select * from renamed
