"""The report's figures the scale-1 sample must reproduce, plus the generator's knobs.

Counts that follow from reference data (街道大工委 = streets, 区域党委 = urban
communities, catalogue items, work items, platforms) are not repeated here: the
generator derives them from the seeds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Targets:
    """Headline figures (docs/kpi_derivations.md) and sample-shape settings."""

    year: int = 2021
    compound_party_branches: int = 1391
    party_member_responsibility_areas: int = 4284
    revoked_branches: int = 6
    revoked_areas: int = 15
    compounds_covered: int = 3315
    uncovered_urban_compounds: int = 280
    incubated_service_orgs: int = 100
    incubated_interest_orgs: int = 100
    social_workers: int = 3253
    municipal_pilot_townships: int = 27
    provincial_pilot_counties: tuple[str, ...] = ("511402", "511423")
    purchase_projects: int = 206
    purchase_funds_cents: int = 709_320  # 7093.20 万元
    purchase_projects_previous_year: int = 48
    elderly_care_facilities: int = 823
    child_care_facilities: int = 304
    party_mass_centers_renovation: int = 121
    neighborhood_centers: int = 9
    neighborhood_center_companies: int = 3
    old_compounds_renovated: int = 786
    old_compound_investment_cents: int = 17_700_000  # 177000.00 万元 = 17.7 亿元
    renovations_in_progress: int = 45
    renovations_planned: int = 38
    service_departments: int = 29
    service_items: int = 1570
    cross_city_items: int = 55
    sichuan_chongqing_items: int = 210
    cross_province_items: int = 132
    mediation_cases: int = 2_000  # per unit of scale
    grid_events: int = 5_000  # per unit of scale
    service_transactions: int = 20_000  # per unit of scale
    enforcement_cases: int = 1_500  # per unit of scale
    proxy_service_requests: int = 3_000  # per unit of scale


TARGETS = Targets()
