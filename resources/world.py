"""The source of raw data: the synthetic world, or a folder of the user's own files."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from deeprule.io.inbox import folder_digests, month_fingerprints
from deeprule.io.sources import table_months
from deeprule.schema import SHIPMENTS
from deeprule.synth import World, build_world
from deeprule.synth.spec import WorldSpec, resolve_spec


class WorldResource(dg.ConfigurableResource):
    """Which world the raw assets come from.

    With `data_folder` empty the seeded generator builds the preset world;
    with a folder of Parquet/CSV files (see docs/data-contract.md) those files
    replace the generator for every raw table.
    """

    preset: str = Field(default="demo", description="World preset: tiny, demo or paper.")
    overrides_json: str = Field(
        default="", description='JSON object overriding preset fields, e.g. {"seed": 3}.'
    )
    data_folder: str = Field(
        default="", description="Folder of user Parquet/CSV files; empty = generate."
    )
    strict: bool = Field(
        default=False,
        description="Fail the run on any invalid row (after quarantining it) instead of "
        "continuing with the valid rows and failing the table's quarantine check.",
    )

    def spec(self) -> WorldSpec:
        overrides: dict[str, Any] = json.loads(self.overrides_json) if self.overrides_json else {}
        return resolve_spec(self.preset, overrides)

    def user_folder(self) -> Path | None:
        return Path(self.data_folder) if self.data_folder else None

    def world(self) -> World:
        """The generated world (cached per spec inside the generator)."""
        return build_world(self.spec())

    def months(self) -> list[date]:
        """The months the data holds: the one calendar the monthly partitions follow."""
        folder = self.user_folder()
        if folder is not None:
            return table_months(folder, SHIPMENTS)
        return self.spec().months

    def month_fingerprints(self) -> dict[date, str]:
        """Per month, a digest of its source: the files holding its rows, or the world spec.

        A month whose fingerprint differs from the one its last materialization recorded
        is stale (the daily rebuild reloads it).
        """
        folder = self.user_folder()
        if folder is not None:
            return month_fingerprints(folder, SHIPMENTS, folder_digests(folder))
        spec = json.dumps(self.spec().to_dict(), sort_keys=True)
        return {m: hashlib.sha256(f"{spec}|{m}".encode()).hexdigest() for m in self.months()}
