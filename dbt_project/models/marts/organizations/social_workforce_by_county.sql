-- Social workers (社工人才) per county-level unit and professional qualification.
with

social_workers as (
    select * from {{ ref('stg_civil_affairs__social_workers') }}
),

final as (
    select
        county_code,
        qualification,
        count(distinct person_key)::integer as social_workers,
        count(distinct person_key) filter (where station_code is not null)::integer as workers_at_stations,
        count(distinct station_code)::integer as stations,
        min(hired_date) as earliest_hired_date,
        max(hired_date) as latest_hired_date
    from social_workers
    group by county_code, qualification
)

select * from final
