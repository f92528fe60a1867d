-- Money into each town/street per year from the three funding feeds: purchase-of-
-- services contracts (budget year, terminated projects left out), fund allocations to
-- its communities (allocation year) and old-compound renovation investment in its
-- compounds (completion year, else start year).
with

projects as (
    select * from {{ ref('fct_service_purchase_projects') }}
),

allocations as (
    select * from {{ ref('fct_fund_allocations') }}
),

renovations as (
    select * from {{ ref('fct_old_compound_renovations') }}
),

divisions as (
    select * from {{ ref('dim_divisions') }}
),

purchase_totals as (
    select
        township_code,
        budget_year as funding_year,
        count(*) as purchase_projects,
        sum(contract_amount_wan_yuan) as purchase_amount_wan_yuan
    from projects
    where not is_terminated
    group by township_code, budget_year
),

allocation_totals as (
    select
        street_code as township_code,
        allocation_year as funding_year,
        count(*) as allocations,
        sum(amount_wan_yuan) as allocation_amount_wan_yuan
    from allocations
    where street_code is not null
    group by street_code, allocation_year
),

renovation_totals as (
    select
        street_code as township_code,
        renovation_year as funding_year,
        count(*) as renovation_projects,
        sum(investment_wan_yuan) as renovation_investment_wan_yuan
    from renovations
    where street_code is not null and renovation_year is not null
    group by street_code, renovation_year
),

township_years as (
    select
        township_code,
        funding_year
    from purchase_totals
    union
    select
        township_code,
        funding_year
    from allocation_totals
    union
    select
        township_code,
        funding_year
    from renovation_totals
),

final as (
    select
        township_years.township_code,
        divisions.county_code,
        township_years.funding_year,
        coalesce(purchase_totals.purchase_projects, 0)::integer as purchase_projects,
        coalesce(allocation_totals.allocations, 0)::integer as allocations,
        coalesce(renovation_totals.renovation_projects, 0)::integer as renovation_projects,
        coalesce(purchase_totals.purchase_amount_wan_yuan, 0)::numeric(18, 2) as purchase_amount_wan_yuan,
        coalesce(allocation_totals.allocation_amount_wan_yuan, 0)::numeric(18, 2) as allocation_amount_wan_yuan,
        coalesce(renovation_totals.renovation_investment_wan_yuan, 0)::numeric(18, 2)
            as renovation_investment_wan_yuan,
        (
            coalesce(purchase_totals.purchase_amount_wan_yuan, 0)
            + coalesce(allocation_totals.allocation_amount_wan_yuan, 0)
            + coalesce(renovation_totals.renovation_investment_wan_yuan, 0)
        )::numeric(18, 2) as total_amount_wan_yuan
    from township_years
    left join purchase_totals
        on
            township_years.township_code = purchase_totals.township_code
            and township_years.funding_year = purchase_totals.funding_year
    left join allocation_totals
        on
            township_years.township_code = allocation_totals.township_code
            and township_years.funding_year = allocation_totals.funding_year
    left join renovation_totals
        on
            township_years.township_code = renovation_totals.township_code
            and township_years.funding_year = renovation_totals.funding_year
    left join divisions
        on township_years.township_code = divisions.division_code
)

select * from final
