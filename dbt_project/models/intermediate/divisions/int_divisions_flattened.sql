-- Flattens the division tree (city → county → street/town → community) so that every
-- division carries its county, street and community ancestors (itself included) and
-- its path of names from the city down. Walks parent codes, whatever the depth.
with recursive

divisions as (
    select * from {{ ref('ref_divisions') }}
),

ancestry as (
    select
        division_code,
        division_code as ancestor_code,
        0 as distance
    from divisions

    union all

    select
        ancestry.division_code,
        ancestor.parent_code as ancestor_code,
        ancestry.distance + 1 as distance
    from ancestry
    inner join divisions as ancestor
        on ancestry.ancestor_code = ancestor.division_code
    where
        ancestor.parent_code is not null
        and ancestry.distance < 10
),

ancestors as (
    select
        ancestry.division_code,
        ancestry.distance,
        ancestor.division_code as ancestor_code,
        ancestor.division_name as ancestor_name,
        ancestor.level as ancestor_level
    from ancestry
    inner join divisions as ancestor
        on ancestry.ancestor_code = ancestor.division_code
),

pivoted as (
    select
        division_code,
        max(ancestor_code) filter (where ancestor_level = 'city') as city_code,
        max(ancestor_code) filter (where ancestor_level in ('county', 'county_historical')) as county_code,
        max(ancestor_name) filter (where ancestor_level in ('county', 'county_historical')) as county_name,
        max(ancestor_code) filter (where ancestor_level = 'street') as street_code,
        max(ancestor_name) filter (where ancestor_level = 'street') as street_name,
        max(ancestor_code) filter (where ancestor_level = 'community') as community_code,
        max(ancestor_name) filter (where ancestor_level = 'community') as community_name,
        string_agg(ancestor_name, '/' order by distance desc) as name_path,
        max(distance) + 1 as hierarchy_depth
    from ancestors
    group by division_code
),

final as (
    select
        divisions.division_code,
        divisions.parent_code,
        pivoted.city_code,
        pivoted.county_code,
        pivoted.street_code,
        pivoted.community_code,
        divisions.division_name,
        divisions.level as division_level,
        divisions.division_kind,
        pivoted.county_name,
        pivoted.street_name,
        pivoted.community_name,
        pivoted.name_path,
        pivoted.hierarchy_depth,
        divisions.is_functional_zone,
        divisions.level = 'county_historical' as is_historical
    from divisions
    inner join pivoted
        on divisions.division_code = pivoted.division_code
)

select * from final
