"""Run config that exposes a domain dataclass's settings with the domain's own defaults.

One home for each default: the dataclass in `deeprule/`. A `dg.Config` field that sets
a domain setting takes its default from there (`from_domain`), so the launchpad shows
the value the code really uses and the two can never drift; tests/test_config.py checks
every pair.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pydantic import Field


def domain_default(domain: type, name: str) -> Any:
    """The default of field `name` of the dataclass `domain` (an error if it has none)."""
    for spec in dataclasses.fields(domain):
        if spec.name != name:
            continue
        if spec.default is not dataclasses.MISSING:
            return spec.default
        if spec.default_factory is not dataclasses.MISSING:
            return spec.default_factory()
        raise ValueError(f"{domain.__name__}.{name} has no default")
    raise KeyError(f"{domain.__name__} has no field {name!r}")


def from_domain(domain: type, name: str, description: str) -> Any:
    """A config field whose default is `domain`'s default for `name`."""
    return Field(default=domain_default(domain, name), description=description)
