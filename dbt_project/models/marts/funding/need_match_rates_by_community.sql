-- “服务、需求、项目”三张清单 per community: residents' needs recorded, matched to a
-- service (服务清单) or a purchase-of-services project (项目清单), completed, the match
-- rate and the mean days from recording to matching. Needs are not personal cases: no
-- small-count suppression.
with

needs as (
    select * from {{ ref('stg_community_governance__community_needs') }}
),

divisions as (
    select * from {{ ref('dim_divisions') }}
),

communities as (
    select
        community_code,
        count(*) as needs_recorded,
        count(*) filter (where match_type is not null) as needs_matched,
        count(*) filter (where match_type = '服务') as needs_matched_to_services,
        count(*) filter (where match_type = '项目') as needs_matched_to_projects,
        count(*) filter (where need_status = '已办结') as needs_completed,
        avg(matched_date - recorded_date) filter (where match_type is not null) as mean_days_to_match
    from needs
    group by community_code
),

final as (
    select
        communities.community_code,
        divisions.street_code,
        divisions.county_code,
        communities.needs_recorded::integer as needs_recorded,
        communities.needs_matched::integer as needs_matched,
        communities.needs_matched_to_services::integer as needs_matched_to_services,
        communities.needs_matched_to_projects::integer as needs_matched_to_projects,
        communities.needs_completed::integer as needs_completed,
        round(communities.needs_matched::numeric / communities.needs_recorded, 4) as match_rate,
        round(communities.mean_days_to_match, 2) as avg_days_to_match
    from communities
    left join divisions
        on communities.community_code = divisions.division_code
)

select * from final
