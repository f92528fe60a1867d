-- Mediation parties are residents: each party's ID number, name and phone become a
-- keyed person key and masked display values here; the clear values are not passed on.
-- A table, not a view, so that the HMAC key in the compiled SQL is never stored in pg_views.
-- Incremental, in the stable staging schema: each build ranks and merges only the raw
-- batches newer than this table's batch high-water mark (the key's unique index keeps the
-- merge a lookup; the batch index lets the event fact read only the delta).
{{
    config(
        materialized='incremental',
        unique_key='case_no',
        incremental_strategy='merge',
        on_schema_change='fail',
        post_hook=[
            "create unique index if not exists {{ this.identifier }}__key on {{ this }} (case_no)",
            "create index if not exists {{ this.identifier }}__batch on {{ this }} (batch_id)",
        ],
    )
}}

with

source as (
    {{ latest_source_rows('justice', 'mediation_cases', incremental_batch_column='batch_id') }}
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
