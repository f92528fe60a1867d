with

parties as (
    select * from {{ ref('int_mediation_parties_unnested') }}
),

final as (
    select
        case_no,
        party_seq,
        person_key,
        party_role,
        name_masked,
        phone_masked,
        batch_id as source_batch_id
    from parties
)

select * from final
