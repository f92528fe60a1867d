-- Incremental, in the stable staging schema: each build ranks and merges only the raw
-- batches newer than this table's batch high-water mark (the key's unique index keeps the
-- merge a lookup; the batch index lets the event fact read only the delta).
{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        post_hook=[
            "create unique index if not exists {{ this.identifier }}__key on {{ this }} (event_id)",
            "create index if not exists {{ this.identifier }}__batch on {{ this }} (batch_id)",
        ],
    )
}}

with

source as (
    {{ latest_source_rows('grid_center', 'grid_events', incremental_batch_column='batch_id') }}
),

renamed as (
    select
        event_id,
        grid_code,
        community_code,
        category as event_category,
        status as event_status,
        coalesce(escalations, '[]'::jsonb) as escalations,
        reported_at,
        closed_at,
        _batch_id as batch_id
    from source
)

select * from renamed
