-- Every need of the “服务、需求、项目” lists loaded is counted once in the community match rates.
with

staged as (
    select count(*) as needs from {{ ref('stg_community_governance__community_needs') }}
),

summary as (
    select coalesce(sum(needs_recorded), 0) as needs from {{ ref('need_match_rates_by_community') }}
)

select
    staged.needs as staged_needs,
    summary.needs as summarised_needs
from staged
cross join summary
where staged.needs <> summary.needs
