-- Mediation parties are residents: each party's ID number, name and phone become a
-- keyed person key and masked display values here; the clear values are not passed on.
-- A table, not a view, so that the HMAC key in the compiled SQL is never stored in pg_views.
{{ config(materialized='table') }}

with

source as (
    {{ latest_source_rows('justice', 'mediation_cases') }}
),

renamed as (
    select
        case_no,
        community_code,
        nullif(trim(grid_code), '') as grid_code,
        dispute_type,
        mediation_kind,
        method as mediation_method,
        resolved_level,
        outcome,
        follow_up_done as is_follow_up_done,
        (
            select
                jsonb_agg(
                    jsonb_build_object(
                        'party_seq', party.party_seq,
                        'role', party.party_value ->> 'role',
                        'person_key', {{ person_key("party.party_value ->> 'id_number'") }},
                        'name_masked', {{ mask_name("party.party_value ->> 'name'") }},
                        'phone_masked', {{ mask_phone("party.party_value ->> 'phone'") }}
                    )
                    order by party.party_seq
                )
            from jsonb_array_elements(
                case when jsonb_typeof(source.parties) = 'array' then source.parties else '[]'::jsonb end
            ) with ordinality as party (party_value, party_seq)
        ) as parties_pseudonymised,
        received_at,
        closed_at,
        _batch_id as batch_id
    from source
)

select * from renamed
