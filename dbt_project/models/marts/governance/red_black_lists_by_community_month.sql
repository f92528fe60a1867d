-- “红黑榜” under the residents' convention (居民公约积分制) per community and month: a
-- household is on the month's red list when its net points that month reach
-- var('red_list_min_points'), on the black list when they fall to
-- var('black_list_max_points'). Households are counted by their keyed household key
-- only. Counts below var('suppression_min_count') are published as null with a flag.
with

point_entries as (
    select * from {{ ref('stg_community_governance__resident_point_entries') }}
),

divisions as (
    select * from {{ ref('dim_divisions') }}
),

household_months as (
    select
        community_code,
        household_person_key,
        date_trunc('month', entry_date)::date as entry_month,
        count(*) as point_entries,
        coalesce(sum(points) filter (where points > 0), 0) as points_awarded,
        coalesce(-sum(points) filter (where points < 0), 0) as points_deducted,
        sum(points) as net_points
    from point_entries
    group by community_code, household_person_key, date_trunc('month', entry_date)
),

community_months as (
    select
        community_code,
        entry_month,
        count(*) as households_with_entries,
        sum(point_entries) as point_entries,
        sum(points_awarded) as points_awarded,
        sum(points_deducted) as points_deducted,
        count(*) filter (where net_points >= {{ var('red_list_min_points') }}) as red_list_households,
        count(*) filter (where net_points <= {{ var('black_list_max_points') }}) as black_list_households
    from household_months
    group by community_code, entry_month
),

final as (
    select
        community_months.community_code,
        community_months.entry_month,
        divisions.street_code,
        divisions.county_code,
        community_months.households_with_entries < {{ var('suppression_min_count') }}
            as is_household_count_suppressed,
        community_months.red_list_households < {{ var('suppression_min_count') }} as is_red_list_suppressed,
        community_months.black_list_households < {{ var('suppression_min_count') }} as is_black_list_suppressed,
        {{ suppress_small_count('community_months.households_with_entries',
                                'community_months.households_with_entries') }}::integer
            as households_with_entries,
        {{ suppress_small_count('community_months.point_entries',
                                'community_months.households_with_entries') }}::integer
            as point_entries,
        {{ suppress_small_count('community_months.points_awarded',
                                'community_months.households_with_entries') }}::integer
            as points_awarded,
        {{ suppress_small_count('community_months.points_deducted',
                                'community_months.households_with_entries') }}::integer
            as points_deducted,
        {{ suppress_small_count('community_months.red_list_households',
                                'community_months.red_list_households') }}::integer
            as red_list_households,
        {{ suppress_small_count('community_months.black_list_households',
                                'community_months.black_list_households') }}::integer
            as black_list_households
    from community_months
    left join divisions
        on community_months.community_code = divisions.division_code
)

select * from final
