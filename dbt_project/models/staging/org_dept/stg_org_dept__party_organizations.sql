with

source as (
    {{ latest_source_rows('org_dept', 'party_organizations') }}
),

renamed as (
    select
        org_code,
        org_name,
        org_type,
        parent_org_code,
        division_code,
        member_count::integer as member_count,
        founded_date,
        status as org_status,
        _batch_id as batch_id
    from source
)

select * from renamed
