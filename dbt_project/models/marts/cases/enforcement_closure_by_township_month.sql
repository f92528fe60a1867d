-- Closure of enforcement cases per town/street (the team's area) and month of
-- registration: cases registered, from grid events, closed, the closure rate and the
-- mean days to close. Township level, not community: no small-count suppression.
with

enforcement_cases as (
    select * from {{ ref('fct_enforcement_cases') }}
),

divisions as (
    select * from {{ ref('dim_divisions') }}
),

township_months as (
    select
        township_code,
        registered_month as case_month,
        count(*) as cases_registered,
        count(*) filter (where is_from_grid_event) as cases_from_grid_events,
        count(*) filter (where is_closed) as cases_closed,
        avg(days_to_close) as mean_days_to_close,
        coalesce(sum(fine_amount_yuan), 0) as fines_yuan
    from enforcement_cases
    group by township_code, registered_month
),

final as (
    select
        township_months.township_code,
        township_months.case_month,
        divisions.county_code,
        township_months.cases_registered::integer as cases_registered,
        township_months.cases_from_grid_events::integer as cases_from_grid_events,
        township_months.cases_closed::integer as cases_closed,
        round(township_months.cases_closed::numeric / township_months.cases_registered, 4) as closure_rate,
        round(township_months.mean_days_to_close, 2) as avg_days_to_close,
        township_months.fines_yuan::numeric(18, 2) as fines_yuan
    from township_months
    left join divisions
        on township_months.township_code = divisions.division_code
)

select * from final
