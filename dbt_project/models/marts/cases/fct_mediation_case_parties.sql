-- Incremental by case: a build reads only the cases of batches above the published
-- high-water mark (staging keeps the latest version of each case, merged in the stable
-- staging schema; the filter reaches its batch index through the unnesting view) and
-- replaces every party row of those cases (delete+insert on case_no).
-- The pre-hook deletes the party rows of every case the delta re-delivers first, so a case
-- delivered again with fewer parties, or none, loses its old rows (delete+insert alone
-- deletes only cases that still have a party row). The mark is the published one (audit,
-- stable during the build), not max(source_batch_id) of this table, which the pre-hook
-- itself would move. Rows of other cases are the published ones, untouched: what the delta
-- gate checks is exactly what changed (docs/scale_plan.md).
{{
    config(
        materialized='incremental',
        unique_key='case_no',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        pre_hook="{% if is_incremental() %}delete from {{ this }} as existing using ("
            ~ "select redelivered.case_no from {{ ref('stg_justice__mediation_cases') }} as redelivered "
            ~ "where redelivered.batch_id > {{ published_high_water_mark() }}) as delta_cases "
            ~ "where existing.case_no = delta_cases.case_no{% endif %}",
    )
}}

-- depends_on: {{ ref('stg_justice__mediation_cases') }}

with

parties as (
    select * from {{ ref('int_mediation_parties_unnested') }}
    {% if is_incremental() %}
        where batch_id > {{ published_high_water_mark() }}
    {% endif %}
),

final as (
    select
        case_no,
        party_seq,
        person_key,
        party_role,
        name_masked,
        phone_masked,
        batch_id as source_batch_id
    from parties
)

select * from final
