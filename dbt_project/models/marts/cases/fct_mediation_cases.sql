-- Incremental on the batch high-water mark: only cases from batches newer than the
-- newest already in the table are read, and merged on case_no (a later batch
-- supersedes an earlier version of the same case).
{{
    config(
        materialized='incremental',
        unique_key='case_no',
        incremental_strategy='merge',
        on_schema_change='fail',
        meta={'partition_by_month': 'received_month'},
        post_hook=[
            "{{ partition_by_month('received_month', 'case_no') }}",
            "{{ create_fact_indexes([['source_batch_id'], ['county_code', 'received_month'], ['community_code', 'received_month']]) }}",
        ],
    )
}}

with

mediation_cases as (
    select * from {{ ref('stg_justice__mediation_cases') }}
    {{ newer_batches_only() }}
),

divisions as (
    select * from {{ ref('dim_divisions') }}
),

final as (
    select
        mediation_cases.case_no,
        mediation_cases.community_code,
        divisions.street_code,
        divisions.county_code,
        mediation_cases.grid_code,
        mediation_cases.dispute_type,
        mediation_cases.mediation_kind,
        mediation_cases.mediation_method,
        mediation_cases.resolved_level,
        case mediation_cases.resolved_level
            when '网格' then 1
            when '社区' then 2
            when '街道' then 3
            when '区县及以上' then 4
        end as resolved_level_rank,
        mediation_cases.outcome,
        {{ local_month('mediation_cases.received_at') }} as received_month,
        mediation_cases.closed_at is not null as is_closed,
        mediation_cases.outcome = '调解成功' as is_settled,
        mediation_cases.resolved_level = '网格' as is_resolved_in_grid,
        mediation_cases.resolved_level in ('网格', '社区') as is_resolved_within_community,
        coalesce(mediation_cases.is_follow_up_done, false) as is_follow_up_done,
        coalesce(jsonb_array_length(mediation_cases.parties_pseudonymised), 0)::integer as party_count,
        {{ hours_between('mediation_cases.received_at', 'mediation_cases.closed_at') }} as duration_hours,
        ({{ local_date('mediation_cases.closed_at') }} - {{ local_date('mediation_cases.received_at') }})::integer
            as duration_days,
        mediation_cases.received_at,
        mediation_cases.closed_at,
        mediation_cases.batch_id as source_batch_id
    from mediation_cases
    left join divisions
        on mediation_cases.community_code = divisions.division_code
)

select * from final
