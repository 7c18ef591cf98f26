"""What `make run` prints at the end: what was built and where to look next.

Read from the runs' own materialization events (the metadata each asset
returned), so the summary cannot disagree with what the UI shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

HIGHLIGHTS: dict[str, tuple[str, ...]] = {
    "document_extractions": ("documents_ok", "documents_failed", "documents_pending",
                             "documents_per_minute"),
    "demand_model": ("registered_model", "registered_version", "test_wape"),
    "uplift_model": ("registered_model", "registered_version", "registered_variant"),
    "rule_search": ("best_iteration", "best_fitness", "expert_fitness"),
    "evolved_rule_search": ("best_iteration", "best_fitness", "expert_fitness"),
    "assortment_plans": ("rule_id", "predicted_profit", "violations"),
    "rule_plans_vs_truth": ("search_best_gap", "expert_gap", "logged_gap"),
    "method_comparison": ("deeprule_plan", "deeprule_vs_best_baseline",
                          "deeprule_share_of_oracle", "deeprule_violations",
                          "full_setting_seeds"),
}
"""Per asset, the metadata entries worth a line in the summary (when present)."""
NEXT_STEPS = ("make ui      lineage, runs, metadata and plots at http://localhost:3000",
              "make mlflow  scorer runs and registered models at http://localhost:5000")


@dataclass
class RunSummary:
    """Materializations collected across the runs of one `make run`."""

    phases: list[tuple[str, float, bool]] = field(default_factory=list)
    materialized: dict[str, dict[str, object]] = field(default_factory=dict)

    def add(self, phase: str, seconds: float, result: dg.ExecuteInProcessResult) -> None:
        self.phases.append((phase, seconds, result.success))
        for event in result.get_asset_materialization_events():
            materialization = event.materialization
            key = materialization.asset_key.to_user_string()
            self.materialized[key] = {k: v.value for k, v in materialization.metadata.items()}

    def lines(self) -> list[str]:
        out = ["", "summary", "-------"]
        out += [f"{phase:<28} {'ok' if ok else 'FAILED':<7} {seconds:8.1f} s"
                for phase, seconds, ok in self.phases]
        total = sum(seconds for _, seconds, _ in self.phases)
        out.append(f"{'total':<36} {total:8.1f} s")
        out.append(f"assets materialized: {len(self.materialized)}")
        for asset, keys in HIGHLIGHTS.items():
            metadata = self.materialized.get(asset, {})
            shown = [f"{k}={metadata[k]}" for k in keys if k in metadata]
            if shown:
                out.append(f"  {asset}: {', '.join(shown)}")
        rule = self.materialized.get("rule_search", {}).get("best_rule")
        if isinstance(rule, str):
            out += ["best rule:", *("  " + r for r in rule.strip("`\n").removeprefix("python")
                                    .strip("\n").splitlines())]
        table = self.materialized.get("method_comparison", {}).get("comparison")
        if isinstance(table, str):
            out += ["methods on the plan month, realized under the true demand:", table]
        out += ["next:", *("  " + s for s in NEXT_STEPS)]
        return out
