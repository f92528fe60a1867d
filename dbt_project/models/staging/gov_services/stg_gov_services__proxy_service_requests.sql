-- The applicant's ID number becomes a keyed person key here; the applicant's and the
-- agent's names and the phone are not passed on. A table, not a view, so that the HMAC
-- key in the compiled SQL is never stored in pg_views.
{{ config(materialized='table') }}

with

source as (
    {{ latest_source_rows('gov_services', 'proxy_service_requests') }}
),

renamed as (
    select
        request_no,
        station_code,
        community_code,
        agent_code,
        item_code,
        {{ person_key('applicant_id_number') }} as applicant_person_key,
        matter,
        proxy_mode,
        request_status,
        promised_days::integer as promised_days,
        received_at,
        finished_at,
        _batch_id as batch_id
    from source
)

select * from renamed
