with

compounds as (
    select * from {{ ref('stg_housing__residential_compounds') }}
),

party_organizations as (
    select * from {{ ref('dim_party_organizations') }}
),

divisions as (
    select * from {{ ref('dim_divisions') }}
),

active_branches as (
    select org_code
    from party_organizations
    where is_active and org_type = '小区(片区)党支部'
),

final as (
    select
        compounds.compound_code,
        compounds.community_code,
        divisions.street_code,
        divisions.county_code,
        compounds.party_branch_code,
        compounds.compound_name,
        compounds.is_old_compound,
        active_branches.org_code is not null as is_covered_by_party_org,
        compounds.households,
        compounds.built_year,
        compounds.batch_id as source_batch_id
    from compounds
    left join active_branches
        on compounds.party_branch_code = active_branches.org_code
    left join divisions
        on compounds.community_code = divisions.division_code
)

select * from final
