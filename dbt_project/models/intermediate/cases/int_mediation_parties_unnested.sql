-- One row per party of a mediation case, from the pseudonymised party list staging
-- builds (person key and masked values only; the clear values never reach here).
with

mediation_cases as (
    select * from {{ ref('stg_justice__mediation_cases') }}
),

unnested as (
    select
        mediation_cases.case_no,
        (party.party_value ->> 'party_seq')::integer as party_seq,
        party.party_value ->> 'person_key' as person_key,
        party.party_value ->> 'role' as party_role,
        party.party_value ->> 'name_masked' as name_masked,
        party.party_value ->> 'phone_masked' as phone_masked,
        mediation_cases.batch_id
    from mediation_cases
    cross join lateral jsonb_array_elements(
        coalesce(mediation_cases.parties_pseudonymised, '[]'::jsonb)
    ) as party (party_value)
)

select * from unnested
