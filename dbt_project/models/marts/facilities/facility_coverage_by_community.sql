-- Which facility types each community has, and the 全覆盖 (full coverage) checks:
-- medical and culture/sports facilities in every community, a social-work station in
-- every town/street.
with

divisions as (
    select * from {{ ref('dim_divisions') }}
),

facilities as (
    select * from {{ ref('dim_facilities') }}
),

communities as (
    select
        division_code as community_code,
        street_code,
        county_code
    from divisions
    where division_level = 'community'
),

community_counts as (
    select
        community_code,
        count(*) filter (where facility_type = '社区养老服务设施') as elderly_care_facilities,
        count(*) filter (where facility_type = '儿童关爱保护设施') as child_care_facilities,
        count(*) filter (where facility_type = '医疗卫生设施') as medical_facilities,
        count(*) filter (where facility_type = '文化体育设施') as culture_sports_facilities,
        count(*) filter (where facility_type = '党群服务中心') as party_mass_centers,
        count(*) filter (where facility_type = '代办驿站') as agency_stations,
        count(*) filter (where facility_type = '邻里中心') as neighborhood_centers,
        count(*) filter (where is_open_weekends) as facilities_open_weekends,
        count(*) as facilities
    from facilities
    group by community_code
),

street_stations as (
    select
        street_code,
        count(*) as social_work_stations
    from facilities
    where facility_type = '社工站'
    group by street_code
),

final as (
    select
        communities.community_code,
        communities.street_code,
        communities.county_code,
        coalesce(community_counts.facilities, 0)::integer as facilities,
        coalesce(community_counts.elderly_care_facilities, 0)::integer as elderly_care_facilities,
        coalesce(community_counts.child_care_facilities, 0)::integer as child_care_facilities,
        coalesce(community_counts.medical_facilities, 0)::integer as medical_facilities,
        coalesce(community_counts.culture_sports_facilities, 0)::integer as culture_sports_facilities,
        coalesce(community_counts.party_mass_centers, 0)::integer as party_mass_centers,
        coalesce(community_counts.agency_stations, 0)::integer as agency_stations,
        coalesce(community_counts.neighborhood_centers, 0)::integer as neighborhood_centers,
        coalesce(community_counts.facilities_open_weekends, 0)::integer as facilities_open_weekends,
        coalesce(community_counts.elderly_care_facilities, 0) > 0 as has_elderly_care,
        coalesce(community_counts.child_care_facilities, 0) > 0 as has_child_care,
        coalesce(community_counts.medical_facilities, 0) > 0 as has_medical,
        coalesce(community_counts.culture_sports_facilities, 0) > 0 as has_culture_sports,
        coalesce(community_counts.party_mass_centers, 0) > 0 as has_party_mass_center,
        coalesce(street_stations.social_work_stations, 0) > 0 as has_township_social_work_station,
        coalesce(community_counts.medical_facilities, 0) > 0
        and coalesce(community_counts.culture_sports_facilities, 0) > 0 as is_fully_covered
    from communities
    left join community_counts
        on communities.community_code = community_counts.community_code
    left join street_stations
        on communities.street_code = street_stations.street_code
)

select * from final
