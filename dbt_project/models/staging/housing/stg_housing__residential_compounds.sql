with

source as (
    {{ latest_source_rows('housing', 'residential_compounds') }}
),

renamed as (
    select
        compound_code,
        compound_name,
        community_code,
        nullif(trim(party_branch_code), '') as party_branch_code,
        households::integer as households,
        built_year::integer as built_year,
        is_old_compound,
        _batch_id as batch_id
    from source
)

select * from renamed
