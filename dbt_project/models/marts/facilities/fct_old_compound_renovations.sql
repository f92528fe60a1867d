with

renovations as (
    select * from {{ ref('stg_housing__old_compound_renovations') }}
),

compounds as (
    select * from {{ ref('dim_residential_compounds') }}
),

final as (
    select
        renovations.project_code,
        renovations.compound_code,
        compounds.community_code,
        compounds.street_code,
        compounds.county_code,
        coalesce(renovations.components, '{}'::text[]) as components,
        coalesce('管网' = any(renovations.components), false) as has_pipe_network,
        coalesce('路面' = any(renovations.components), false) as has_road_surface,
        coalesce('通道' = any(renovations.components), false) as has_passageway,
        coalesce('绿化' = any(renovations.components), false) as has_greening,
        coalesce('文体' = any(renovations.components), false) as has_culture_sports,
        coalesce(cardinality(renovations.components), 0)::integer as component_count,
        renovations.renovation_status,
        renovations.renovation_status = '完工' as is_completed,
        renovations.investment_wan_yuan,
        (renovations.completed_date - renovations.started_date)::integer as duration_days,
        renovations.started_date,
        renovations.completed_date,
        extract(year from coalesce(renovations.completed_date, renovations.started_date))::integer
            as renovation_year,
        renovations.batch_id as source_batch_id
    from renovations
    left join compounds
        on renovations.compound_code = compounds.compound_code
)

select * from final
