"""Monthly partitions spanning the configured world's months."""

import dagster as dg

from deeprule.synth.spec import spec_from_env

WORLD_SPEC = spec_from_env()

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=WORLD_SPEC.start.isoformat(),
    end_date=WORLD_SPEC.end_exclusive.isoformat(),
)
