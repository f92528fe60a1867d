-- Incremental on the batch high-water mark, merged on transaction_no. 限时办结: a
-- transaction is on time when it was completed within its promised working days
-- (Monday–Friday after the day of acceptance, in local time; holidays not modelled).
{{
    config(
        materialized='incremental',
        unique_key='transaction_no',
        incremental_strategy='merge',
        on_schema_change='fail',
        meta={'partition_by_month': 'accepted_month'},
        post_hook=[
            "{{ partition_by_month('accepted_month', 'transaction_no') }}",
            "{{ create_fact_indexes([['source_batch_id'], ['accepted_month', 'item_code'], ['item_code', 'accepted_month']]) }}",
        ],
    )
}}

with

transactions as (
    select * from {{ ref('stg_gov_services__service_transactions') }}
    {{ newer_batches_only() }}
),

timed as (
    select
        transactions.*,
        {{ local_date('transactions.accepted_at') }} as accepted_date,
        {{ local_date('transactions.completed_at') }} as completed_date
    from transactions
),

final as (
    select
        transaction_no,
        item_code,
        applicant_person_key,
        channel,
        date_trunc('month', accepted_date)::date as accepted_month,
        completed_at is not null as is_completed,
        completed_at is not null
        and promised_days is not null
        and {{ working_days_between('accepted_date', 'completed_date') }} <= promised_days as is_on_time,
        promised_days,
        case
            when completed_at is not null
                then {{ working_days_between('accepted_date', 'completed_date') }}
        end as working_days_taken,
        {{ hours_between('accepted_at', 'completed_at') }} as hours_to_completion,
        accepted_at,
        completed_at,
        batch_id as source_batch_id
    from timed
)

select * from final
