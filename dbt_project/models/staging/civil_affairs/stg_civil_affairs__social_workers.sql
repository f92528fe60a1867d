-- Social workers are residents: the ID number, name and phone are turned into a keyed
-- person key and masked display values here and never passed on in clear. A table,
-- not a view, so that the HMAC key in the compiled SQL is never stored in pg_views.
{{ config(materialized='table') }}

with

source as (
    {{ latest_source_rows('civil_affairs', 'social_workers') }}
),

renamed as (
    select
        {{ person_key('id_number') }} as person_key,
        {{ mask_name('full_name') }} as full_name_masked,
        {{ mask_phone('phone') }} as phone_masked,
        qualification,
        nullif(trim(station_code), '') as station_code,
        county_code,
        hired_date,
        _batch_id as batch_id
    from source
)

select * from renamed
