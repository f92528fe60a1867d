-- The "社区呼叫、街道吹哨、部门报到" chain of each grid event: the highest level it
-- reached (网格 when it was never escalated), how many steps, and the hours from the
-- report to the first response (the first escalation, or the closure for an event
-- handled in the grid) and to the closure.
with

grid_events as (
    select * from {{ ref('stg_grid_center__grid_events') }}
),

final as (
    select
        grid_events.event_id,
        grid_events.grid_code,
        grid_events.community_code,
        escalation_summary.reporting_department_code,
        grid_events.event_category,
        grid_events.event_status,
        coalesce(escalation_summary.highest_escalation_rank, 0) as highest_escalation_rank,
        case coalesce(escalation_summary.highest_escalation_rank, 0)
            when 0 then '网格'
            when 1 then '社区呼叫'
            when 2 then '街道吹哨'
            when 3 then '部门报到'
        end as highest_escalation_level,
        coalesce(escalation_summary.escalation_count, 0)::integer as escalation_count,
        {{ hours_between('grid_events.reported_at',
            'coalesce(escalation_summary.first_escalated_at, grid_events.closed_at)') }} as hours_to_first_response,
        {{ hours_between('grid_events.reported_at', 'grid_events.closed_at') }} as hours_to_closure,
        grid_events.reported_at,
        escalation_summary.first_escalated_at,
        grid_events.closed_at,
        grid_events.batch_id
    from grid_events
    -- Summarised per event in a lateral subquery, not a group by over all events: a filter on
    -- batch_id from the incremental fact then reaches the staging scan, which reads only the delta.
    left join lateral (  -- noqa: ST05
        select
            max(
                case step.step_value ->> 'level'
                    when '社区呼叫' then 1
                    when '街道吹哨' then 2
                    when '部门报到' then 3
                end
            ) as highest_escalation_rank,
            count(*) as escalation_count,
            min((step.step_value ->> 'at')::timestamptz) as first_escalated_at,
            max((step.step_value ->> 'at')::timestamptz) filter (
                where step.step_value ->> 'level' = '部门报到'
            ) as department_reported_at,
            min(nullif(step.step_value ->> 'department_code', '')) filter (
                where step.step_value ->> 'level' = '部门报到'
            ) as reporting_department_code
        from jsonb_array_elements(
            case
                when jsonb_typeof(grid_events.escalations) = 'array' then grid_events.escalations
                else '[]'::jsonb
            end
        ) as step (step_value)
    ) as escalation_summary on true
)

select * from final
