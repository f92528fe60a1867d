-- 综合行政执法: one row per case of a township enforcement team (一支队伍管执法). Cases
-- that came in from a grid event name it; in counties running "网格+包保+执法" most do.
-- Days to close are calendar days between the local dates of registration and closure.
with

enforcement_cases as (
    select * from {{ ref('stg_enforcement__enforcement_cases') }}
),

divisions as (
    select * from {{ ref('dim_divisions') }}
),

final as (
    select
        enforcement_cases.case_no,
        enforcement_cases.team_code,
        enforcement_cases.township_code,
        enforcement_cases.community_code,
        divisions.county_code,
        enforcement_cases.grid_code,
        enforcement_cases.source_event_id,
        enforcement_cases.party_person_key,
        enforcement_cases.case_source,
        enforcement_cases.linkage_mode,
        enforcement_cases.violation_type,
        enforcement_cases.legal_basis,
        enforcement_cases.case_status,
        enforcement_cases.outcome,
        enforcement_cases.party_type,
        {{ local_month('enforcement_cases.registered_at') }} as registered_month,
        enforcement_cases.case_source = '网格事件' as is_from_grid_event,
        enforcement_cases.closed_at is not null as is_closed,
        enforcement_cases.fine_amount_yuan,
        (
            {{ local_date('enforcement_cases.closed_at') }}
            - {{ local_date('enforcement_cases.registered_at') }}
        )::integer as days_to_close,
        enforcement_cases.registered_at,
        enforcement_cases.closed_at,
        enforcement_cases.batch_id as source_batch_id
    from enforcement_cases
    left join divisions
        on enforcement_cases.community_code = divisions.division_code
)

select * from final
