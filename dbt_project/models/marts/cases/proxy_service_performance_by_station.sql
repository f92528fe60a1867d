-- 便民代办 per 代办驿站: requests received, finished, finished within the promised
-- working days (Monday–Friday after the day of receipt, local time; holidays not
-- modelled), returned and still open, and the on-time rate of the finished ones.
with

requests as (
    select * from {{ ref('stg_gov_services__proxy_service_requests') }}
),

facilities as (
    select * from {{ ref('dim_facilities') }}
),

divisions as (
    select * from {{ ref('dim_divisions') }}
),

timed as (
    select
        requests.*,
        case
            when requests.request_status = '已办结' and requests.finished_at is not null
                then {{ working_days_between(local_date('requests.received_at'), local_date('requests.finished_at')) }}
        end as working_days_taken
    from requests
),

stations as (
    select
        station_code,
        max(community_code) as community_code,
        count(distinct agent_code) as agents,
        count(*) as requests,
        count(working_days_taken) as requests_finished,
        count(*) filter (where working_days_taken <= promised_days) as requests_finished_on_time,
        count(*) filter (where request_status = '已退回') as requests_returned,
        count(*) filter (where request_status = '办理中') as requests_open,
        avg(working_days_taken) as mean_working_days
    from timed
    group by station_code
),

final as (
    select
        stations.station_code,
        facilities.facility_name as station_name,
        stations.community_code,
        divisions.street_code,
        divisions.county_code,
        stations.agents::integer as agents,
        stations.requests::integer as requests,
        stations.requests_finished::integer as requests_finished,
        stations.requests_finished_on_time::integer as requests_finished_on_time,
        stations.requests_returned::integer as requests_returned,
        stations.requests_open::integer as requests_open,
        round(stations.requests_finished_on_time::numeric / nullif(stations.requests_finished, 0), 4)
            as on_time_rate,
        round(stations.mean_working_days, 2) as avg_working_days_to_finish
    from stations
    left join facilities
        on stations.station_code = facilities.facility_code
    left join divisions
        on stations.community_code = divisions.division_code
)

select * from final
