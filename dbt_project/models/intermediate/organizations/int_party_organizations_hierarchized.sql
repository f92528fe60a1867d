-- Walks the party organisation tree from the 街道大工委 roots down, giving each
-- organisation its level and its path of codes from the root.
with recursive

party_organizations as (
    select * from {{ ref('stg_org_dept__party_organizations') }}
),

hierarchy as (
    select
        org_code,
        1 as hierarchy_level,
        org_code::text as hierarchy_path,
        org_code as root_org_code
    from party_organizations
    where parent_org_code is null

    union all

    select
        child.org_code,
        parent.hierarchy_level + 1 as hierarchy_level,
        parent.hierarchy_path || '/' || child.org_code as hierarchy_path,
        parent.root_org_code
    from party_organizations as child
    inner join hierarchy as parent
        on child.parent_org_code = parent.org_code
    where parent.hierarchy_level < 10
),

final as (
    select
        party_organizations.*,
        hierarchy.hierarchy_level,
        hierarchy.hierarchy_path,
        hierarchy.root_org_code
    from party_organizations
    left join hierarchy
        on party_organizations.org_code = hierarchy.org_code
)

select * from final
