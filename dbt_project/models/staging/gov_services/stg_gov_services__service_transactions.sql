-- The applicant's ID number becomes a keyed person key here and is not passed on.
-- A table, not a view, so that the HMAC key in the compiled SQL is never stored in pg_views.
{{ config(materialized='table') }}

with

source as (
    {{ latest_source_rows('gov_services', 'service_transactions') }}
),

renamed as (
    select
        transaction_no,
        item_code,
        channel,
        {{ person_key('applicant_id_number') }} as applicant_person_key,
        promised_days::integer as promised_days,
        accepted_at,
        completed_at,
        _batch_id as batch_id
    from source
)

select * from renamed
