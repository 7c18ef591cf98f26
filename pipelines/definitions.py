"""The one Dagster code location: every asset, check, job and schedule, wired to resources."""

import dagster as dg

import assets as assets_package
from pipelines.jobs import build_jobs, build_schedules
from resources import default_resources

all_assets = dg.load_assets_from_package_module(assets_package)
all_checks = dg.load_asset_checks_from_package_module(assets_package)
jobs = build_jobs(all_assets)

defs = dg.Definitions(
    assets=all_assets,
    asset_checks=all_checks,
    jobs=jobs,
    schedules=build_schedules(jobs),
    resources=default_resources(),
)
