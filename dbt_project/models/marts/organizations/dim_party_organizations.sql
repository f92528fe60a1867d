with

hierarchized as (
    select * from {{ ref('int_party_organizations_hierarchized') }}
),

final as (
    select
        org_code,
        parent_org_code,
        root_org_code,
        org_name,
        org_type,
        case org_type
            when '街道大工委' then 1
            when '城市社区区域党委' then 2
            when '小区(片区)党支部' then 3
            when '党员责任区' then 4
        end as org_type_level,
        hierarchy_level,
        hierarchy_path,
        division_code,
        org_status,
        org_status = '正常' as is_active,
        member_count,
        founded_date,
        batch_id as source_batch_id
    from hierarchized
)

select * from final
