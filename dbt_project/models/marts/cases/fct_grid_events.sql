-- Incremental on the batch high-water mark, merged on event_id (a later batch
-- supersedes an earlier version of the same event, e.g. when it is closed).
{{
    config(
        materialized='incremental',
        unique_key='event_id',
        incremental_strategy='merge',
        on_schema_change='fail',
        meta={'partition_by_month': 'reported_month'},
        post_hook=[
            "{{ partition_by_month('reported_month', 'event_id') }}",
            "{{ create_fact_indexes([['source_batch_id'], ['county_code', 'reported_month'], ['community_code', 'reported_month']]) }}",
        ],
    )
}}

with

grid_events as (
    select * from {{ ref('int_grid_events_escalated') }}
    {{ newer_batches_only() }}
),

divisions as (
    select * from {{ ref('dim_divisions') }}
),

final as (
    select
        grid_events.event_id,
        grid_events.grid_code,
        grid_events.community_code,
        divisions.street_code,
        divisions.county_code,
        grid_events.reporting_department_code,
        grid_events.event_category,
        grid_events.event_status,
        grid_events.highest_escalation_level,
        grid_events.highest_escalation_rank,
        {{ local_month('grid_events.reported_at') }} as reported_month,
        grid_events.closed_at is not null as is_closed,
        grid_events.highest_escalation_rank = 0 as is_handled_in_grid,
        grid_events.highest_escalation_rank <= 1 as is_handled_within_community,
        grid_events.escalation_count,
        grid_events.hours_to_first_response,
        grid_events.hours_to_closure,
        grid_events.reported_at,
        grid_events.first_escalated_at,
        grid_events.closed_at,
        grid_events.batch_id as source_batch_id
    from grid_events
    left join divisions
        on grid_events.community_code = divisions.division_code
)

select * from final
