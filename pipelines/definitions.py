"""The one Dagster code location: every asset, check, job, schedule and sensor, wired to
resources.

Every asset outside the `raw` group is eager (`AutomationCondition.eager()`): the
automation sensor materializes it when it is missing or an input was updated, never
otherwise. The raw tables are loaded by the jobs, the `data_inbox` sensor and the
`daily_rebuild` schedule (pipelines/automation.py), which know when a source changed.

One refinement: an unpartitioned asset that reads a monthly table both directly and
through another input derived from it (a model reads `shipments` and the features
built from them) ignores the direct edge, or a new month would train it twice: once
at once, once after the features (a partitioned run and an unpartitioned one cannot
share a run, so the two paths arrive on different ticks).
"""

import dagster as dg
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph

import assets as assets_package
from pipelines.automation import build_schedules, build_sensors
from pipelines.jobs import build_jobs
from resources import default_resources

SOURCE_GROUPS = ("raw",)


def shortcut_deps(graph: AssetGraph, key: dg.AssetKey) -> list[dg.AssetKey]:
    """Partitioned parents of an unpartitioned `key` that also reach it via another parent."""
    node = graph.get(key)
    if node.partitions_def is not None:
        return []
    parents = set(node.parent_keys)

    def reaches(ancestor: dg.AssetKey, parent: dg.AssetKey) -> bool:
        return ancestor in dg.AssetSelection.assets(parent).upstream().resolve(graph)

    return sorted((p for p in parents if graph.get(p).partitions_def is not None
                   and any(reaches(p, q) for q in parents - {p})),
                  key=lambda k: k.to_user_string())


def _with_automation(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """Every asset eager, except the source tables (see the module docstring)."""
    graph = AssetGraph.from_assets(assets)

    def condition(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.group_name in SOURCE_GROUPS:
            return spec
        eager = dg.AutomationCondition.eager()
        shortcuts = shortcut_deps(graph, spec.key)
        if shortcuts:
            eager = eager.ignore(dg.AssetSelection.assets(*shortcuts))
        return spec.replace_attributes(automation_condition=eager)

    return [asset.map_asset_specs(condition) for asset in assets]


OWNERS = ["team:deeprule"]


def _owned(assets: list[dg.AssetsDefinition]) -> list[dg.AssetsDefinition]:
    """Every asset with its owner and a link to the code that defines it (the UI shows both)."""
    owned = [a.map_asset_specs(lambda spec: spec.replace_attributes(owners=OWNERS))
             for a in assets]
    return list(dg.with_source_code_references(owned))


all_assets = _owned(_with_automation(dg.load_assets_from_package_module(assets_package)))
all_checks = dg.load_asset_checks_from_package_module(assets_package)
jobs = build_jobs(all_assets)

defs = dg.Definitions(
    assets=all_assets,
    asset_checks=all_checks,
    jobs=jobs,
    schedules=build_schedules(jobs),
    sensors=build_sensors(jobs),
    resources=default_resources(),
)
