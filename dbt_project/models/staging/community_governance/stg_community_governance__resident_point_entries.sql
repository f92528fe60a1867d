-- The householder's ID number becomes a keyed household key here; the name and the ID
-- number are not passed on. A table, not a view, so that the HMAC key in the compiled
-- SQL is never stored in pg_views.
{{ config(materialized='table') }}

with

source as (
    {{ latest_source_rows('community_governance', 'resident_points') }}
),

renamed as (
    select
        entry_no,
        community_code,
        nullif(trim(compound_code), '') as compound_code,
        {{ person_key('household_id_number') }} as household_person_key,
        list_side,
        reason,
        points::integer as points,
        entry_date,
        _batch_id as batch_id
    from source
)

select * from renamed
