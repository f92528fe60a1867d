-- Every 便民代办 request loaded is counted once in the station summary.
with

staged as (
    select count(*) as requests from {{ ref('stg_gov_services__proxy_service_requests') }}
),

summary as (
    select coalesce(sum(requests), 0) as requests from {{ ref('proxy_service_performance_by_station') }}
)

select
    staged.requests as staged_requests,
    summary.requests as summarised_requests
from staged
cross join summary
where staged.requests <> summary.requests
