with

source as (
    {{ latest_source_rows('finance', 'service_purchase_projects') }}
),

renamed as (
    select
        project_code,
        project_name,
        township_code,
        catalog_code,
        pilot_level,
        nullif(trim(provider_uscc), '') as provider_uscc,
        status as project_status,
        budget_year::integer as budget_year,
        contract_amount_wan_yuan::numeric(18, 2) as contract_amount_wan_yuan,
        start_date,
        end_date,
        _batch_id as batch_id
    from source
)

select * from renamed
