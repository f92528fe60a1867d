with

source as (
    {{ latest_source_rows('civil_affairs', 'community_facilities') }}
),

renamed as (
    select
        facility_code,
        facility_name,
        facility_type,
        community_code,
        nullif(trim(opening_hours), '') as opening_hours,
        renovation_status,
        nullif(trim(operator_uscc), '') as operator_uscc,
        floor_area_m2::numeric(18, 2) as floor_area_m2,
        opened_date,
        _batch_id as batch_id
    from source
)

select * from renamed
