-- Every enforcement case loaded reaches the case fact, and the closure summary counts
-- each case exactly once (the reconciliation of raw keys and marts for this feed).
with

staged as (
    select count(*) as cases from {{ ref('stg_enforcement__enforcement_cases') }}
),

facts as (
    select count(*) as cases from {{ ref('fct_enforcement_cases') }}
),

summary as (
    select coalesce(sum(cases_registered), 0) as cases from {{ ref('enforcement_closure_by_township_month') }}
)

select
    staged.cases as staged_cases,
    facts.cases as fact_cases,
    summary.cases as summarised_cases
from staged
cross join facts
cross join summary
where staged.cases <> facts.cases or staged.cases <> summary.cases
