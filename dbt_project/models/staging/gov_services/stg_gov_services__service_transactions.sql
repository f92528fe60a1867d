-- The applicant's ID number becomes a keyed person key here and is not passed on.
-- A table, not a view, so that the HMAC key in the compiled SQL is never stored in pg_views.
-- Incremental, in the stable staging schema: each build ranks and merges only the raw
-- batches newer than this table's batch high-water mark (the key's unique index keeps the
-- merge a lookup; the batch index lets the event fact read only the delta).
{{
    config(
        materialized='incremental',
        unique_key='transaction_no',
        incremental_strategy='merge',
        on_schema_change='fail',
        post_hook=[
            "create unique index if not exists {{ this.identifier }}__key on {{ this }} (transaction_no)",
            "create index if not exists {{ this.identifier }}__batch on {{ this }} (batch_id)",
        ],
    )
}}

with

source as (
    {{ latest_source_rows('gov_services', 'service_transactions', incremental_batch_column='batch_id') }}
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
