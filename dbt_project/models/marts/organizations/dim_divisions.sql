with

divisions as (
    select * from {{ ref('int_divisions_flattened') }}
),

final as (
    select
        division_code::text as division_code,
        parent_code::text as parent_code,
        city_code::text as city_code,
        county_code::text as county_code,
        street_code::text as street_code,
        community_code::text as community_code,
        division_name::text as division_name,
        division_level::text as division_level,
        division_kind::text as division_kind,
        county_name::text as county_name,
        street_name::text as street_name,
        community_name::text as community_name,
        name_path,
        hierarchy_depth::integer as hierarchy_depth,
        is_functional_zone,
        is_historical
    from divisions
)

select * from final
