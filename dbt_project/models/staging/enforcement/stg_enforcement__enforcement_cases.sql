-- The party's ID number becomes a keyed person key here; the party's name and ID number
-- are not passed on. A table, not a view, so that the HMAC key in the compiled SQL is
-- never stored in pg_views.
{{ config(materialized='table') }}

with

source as (
    {{ latest_source_rows('enforcement', 'enforcement_cases') }}
),

renamed as (
    select
        case_no,
        team_code,
        township_code,
        community_code,
        nullif(trim(grid_code), '') as grid_code,
        nullif(trim(source_event_id), '') as source_event_id,
        {{ person_key('party_id_number') }} as party_person_key,
        case_source,
        linkage_mode,
        violation_type,
        legal_basis,
        case_status,
        outcome,
        party_type,
        fine_amount_yuan::numeric(18, 2) as fine_amount_yuan,
        registered_at,
        closed_at,
        _batch_id as batch_id
    from source
)

select * from renamed
