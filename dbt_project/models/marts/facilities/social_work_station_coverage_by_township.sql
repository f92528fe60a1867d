-- Township (town/street) social-work stations (乡镇(街道)社工站): every town and street
-- should have one; with the social workers attached to its stations.
with

divisions as (
    select * from {{ ref('dim_divisions') }}
),

facilities as (
    select * from {{ ref('dim_facilities') }}
),

social_workers as (
    select * from {{ ref('stg_civil_affairs__social_workers') }}
),

townships as (
    select
        division_code as township_code,
        county_code,
        division_name as township_name
    from divisions
    where division_level = 'street'
),

stations as (
    select
        street_code as township_code,
        facility_code as station_code,
        is_open_weekends
    from facilities
    where facility_type = '社工站'
),

station_workers as (
    select
        station_code,
        count(distinct person_key) as social_workers
    from social_workers
    where station_code is not null
    group by station_code
),

station_counts as (
    select
        stations.township_code,
        count(*) as stations,
        count(*) filter (where stations.is_open_weekends) as stations_open_weekends,
        coalesce(sum(station_workers.social_workers), 0) as station_social_workers
    from stations
    left join station_workers
        on stations.station_code = station_workers.station_code
    group by stations.township_code
),

final as (
    select
        townships.township_code,
        townships.county_code,
        townships.township_name::text as township_name,
        coalesce(station_counts.stations, 0)::integer as social_work_stations,
        coalesce(station_counts.stations_open_weekends, 0)::integer as stations_open_weekends,
        coalesce(station_counts.station_social_workers, 0)::integer as station_social_workers,
        coalesce(station_counts.stations, 0) > 0 as has_social_work_station
    from townships
    left join station_counts
        on townships.township_code = station_counts.township_code
)

select * from final
