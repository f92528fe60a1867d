-- "小事不出网格，大事不出社区" per community and month: of the mediation cases received
-- that month and resolved, the share settled in the grid and the share kept within the
-- community; of the grid events reported, the share handled in the grid and the share
-- that went no further than 社区呼叫. Counts below var('suppression_min_count') are
-- published as null with a suppressed flag, and so are the rates built on them.
--
-- Incremental by month (delete+insert on case_month): a publication recomputes only the
-- months its delta touches, every community of them, from the merged facts. Touched: the
-- months of fact rows from batches above the published high-water mark, and the months the
-- published versions of those keys had (a corrected date can move a case out of a month).
-- The pre-hook deletes those months first, so a month left with no rows is not kept stale.
-- The facts are read as they will be published (published_fact: in a partial build their
-- candidate tables hold only the delta, which the swap applies in place).
{{
    config(
        materialized='incremental',
        unique_key='case_month',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook="{% if is_incremental() %}delete from {{ this }} where case_month in ("
            ~ "{{ months_touched_since_publication('fct_mediation_cases', 'case_no', 'received_month') }} union "
            ~ "{{ months_touched_since_publication('fct_grid_events', 'event_id', 'reported_month') }}){% endif %}",
    )
}}

with

{% if is_incremental() %}
    touched_months as (
        {{ months_touched_since_publication('fct_mediation_cases', 'case_no', 'received_month') }}
        union
        {{ months_touched_since_publication('fct_grid_events', 'event_id', 'reported_month') }}
    ),
{% endif %}

mediation_cases as (
    select cases_as_published.* from {{ published_fact('fct_mediation_cases') }} as cases_as_published
    {% if is_incremental() %}
        where cases_as_published.received_month in (select touched_months.touched_month from touched_months)
    {% endif %}
),

grid_events as (
    select events_as_published.* from {{ published_fact('fct_grid_events') }} as events_as_published
    {% if is_incremental() %}
        where events_as_published.reported_month in (select touched_months.touched_month from touched_months)
    {% endif %}
),

divisions as (
    select * from {{ ref('dim_divisions') }}
),

case_counts as (
    select
        community_code,
        received_month as case_month,
        count(*) as mediation_cases,
        count(*) filter (where resolved_level is not null) as cases_resolved,
        count(*) filter (where is_resolved_in_grid) as cases_resolved_in_grid,
        count(*) filter (where is_resolved_within_community) as cases_resolved_in_community
    from mediation_cases
    group by community_code, received_month
),

event_counts as (
    select
        community_code,
        reported_month as case_month,
        count(*) as grid_events,
        count(*) filter (where is_handled_in_grid) as events_handled_in_grid,
        count(*) filter (where is_handled_within_community) as events_handled_in_community
    from grid_events
    group by community_code, reported_month
),

community_months as (
    select
        community_code,
        case_month
    from case_counts
    union
    select
        community_code,
        case_month
    from event_counts
),

combined as (
    select
        community_months.community_code,
        community_months.case_month,
        coalesce(case_counts.mediation_cases, 0) as mediation_cases,
        coalesce(case_counts.cases_resolved, 0) as cases_resolved,
        coalesce(case_counts.cases_resolved_in_grid, 0) as cases_resolved_in_grid,
        coalesce(case_counts.cases_resolved_in_community, 0) as cases_resolved_in_community,
        coalesce(event_counts.grid_events, 0) as grid_events,
        coalesce(event_counts.events_handled_in_grid, 0) as events_handled_in_grid,
        coalesce(event_counts.events_handled_in_community, 0) as events_handled_in_community
    from community_months
    left join case_counts
        on
            community_months.community_code = case_counts.community_code
            and community_months.case_month = case_counts.case_month
    left join event_counts
        on
            community_months.community_code = event_counts.community_code
            and community_months.case_month = event_counts.case_month
),

final as (
    select
        combined.community_code,
        combined.case_month,
        divisions.street_code,
        divisions.county_code,
        combined.cases_resolved < {{ var('suppression_min_count') }} as is_case_count_suppressed,
        combined.grid_events < {{ var('suppression_min_count') }} as is_event_count_suppressed,
        {{ suppress_small_count('combined.mediation_cases', 'combined.cases_resolved') }}::integer
            as mediation_cases,
        {{ suppress_small_count('combined.cases_resolved', 'combined.cases_resolved') }}::integer
            as cases_resolved,
        {{ suppress_small_count('combined.cases_resolved_in_grid', 'combined.cases_resolved') }}::integer
            as cases_resolved_in_grid,
        {{ suppress_small_count('combined.cases_resolved_in_community', 'combined.cases_resolved') }}::integer
            as cases_resolved_in_community,
        {{ suppress_small_count(
            'round(combined.cases_resolved_in_grid::numeric / nullif(combined.cases_resolved, 0), 4)',
            'combined.cases_resolved') }} as grid_resolution_rate,
        {{ suppress_small_count(
            'round(combined.cases_resolved_in_community::numeric / nullif(combined.cases_resolved, 0), 4)',
            'combined.cases_resolved') }} as community_resolution_rate,
        {{ suppress_small_count('combined.grid_events', 'combined.grid_events') }}::integer as grid_events,
        {{ suppress_small_count('combined.events_handled_in_grid', 'combined.grid_events') }}::integer
            as events_handled_in_grid,
        {{ suppress_small_count('combined.events_handled_in_community', 'combined.grid_events') }}::integer
            as events_handled_in_community,
        {{ suppress_small_count(
            'round(combined.events_handled_in_grid::numeric / nullif(combined.grid_events, 0), 4)',
            'combined.grid_events') }} as event_grid_handling_rate,
        {{ suppress_small_count(
            'round(combined.events_handled_in_community::numeric / nullif(combined.grid_events, 0), 4)',
            'combined.grid_events') }} as event_community_handling_rate
    from combined
    left join divisions
        on combined.community_code = divisions.division_code
)

select * from final
