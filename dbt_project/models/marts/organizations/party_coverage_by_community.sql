-- Party organisation coverage of each community: its compounds, how many are linked
-- to an active 小区(片区)党支部, and the active branches and responsibility areas there.
with

divisions as (
    select * from {{ ref('dim_divisions') }}
),

compounds as (
    select * from {{ ref('dim_residential_compounds') }}
),

party_organizations as (
    select * from {{ ref('dim_party_organizations') }}
),

communities as (
    select
        division_code as community_code,
        street_code,
        county_code
    from divisions
    where division_level = 'community'
),

compound_counts as (
    select
        community_code,
        count(*) as compounds,
        count(*) filter (where is_old_compound) as old_compounds,
        count(*) filter (where is_covered_by_party_org) as covered_compounds
    from compounds
    group by community_code
),

party_counts as (
    select
        division_code as community_code,
        count(*) filter (where org_type = '城市社区区域党委') as regional_party_committees,
        count(*) filter (where org_type = '小区(片区)党支部') as compound_party_branches,
        count(*) filter (where org_type = '党员责任区') as responsibility_areas,
        coalesce(sum(member_count) filter (where org_type = '小区(片区)党支部'), 0) as branch_party_members
    from party_organizations
    where is_active
    group by division_code
),

final as (
    select
        communities.community_code,
        communities.street_code,
        communities.county_code,
        coalesce(compound_counts.compounds, 0)::integer as compounds,
        coalesce(compound_counts.old_compounds, 0)::integer as old_compounds,
        coalesce(compound_counts.covered_compounds, 0)::integer as covered_compounds,
        coalesce(party_counts.regional_party_committees, 0)::integer as regional_party_committees,
        coalesce(party_counts.compound_party_branches, 0)::integer as compound_party_branches,
        coalesce(party_counts.responsibility_areas, 0)::integer as responsibility_areas,
        coalesce(party_counts.branch_party_members, 0)::integer as branch_party_members,
        round(
            coalesce(compound_counts.covered_compounds, 0)::numeric / nullif(compound_counts.compounds, 0), 4
        ) as coverage_rate,
        coalesce(compound_counts.compounds, 0) > 0
        and coalesce(compound_counts.covered_compounds, 0) = compound_counts.compounds as is_fully_covered
    from communities
    left join compound_counts
        on communities.community_code = compound_counts.community_code
    left join party_counts
        on communities.community_code = party_counts.community_code
)

select * from final
