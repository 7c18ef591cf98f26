"""One home for each default: every run-config field that sets a domain setting shows the
domain dataclass's own default, and a default config builds the domain's default object."""

import dataclasses

import pytest

from assets.features import AffiliationConfig, CustomerFeatureConfig, SkuFeatureConfig
from assets.quality import CleaningConfig, FusionConfig, ReportConfig
from assets.scorers import DemandModelConfig, UpliftModelConfig
from assets.search import RuleSearchConfig
from deeprule.features.sku import SkuParams
from deeprule.features.temporal import TemporalParams
from deeprule.geo.affiliation import AffiliationParams
from deeprule.models.demand import DemandConfig
from deeprule.models.uplift import UpliftConfig
from deeprule.quality.cleaning import CleaningParams
from deeprule.quality.loop import FusionParams
from deeprule.quality.refit import RefitConfig
from deeprule.search.objective import FitnessConfig
from deeprule.search.reflect import SearchConfig

PAIRS = [
    (RuleSearchConfig, (SearchConfig, FitnessConfig)),
    (DemandModelConfig, (DemandConfig,)),
    (UpliftModelConfig, (UpliftConfig,)),
    (FusionConfig, (FusionParams,)),
    (CleaningConfig, (CleaningParams,)),
    (ReportConfig, (RefitConfig,)),
    (AffiliationConfig, (AffiliationParams,)),
    (CustomerFeatureConfig, (TemporalParams,)),
    (SkuFeatureConfig, (SkuParams,)),
]


def _domain_defaults(domain: type) -> dict:
    return {f.name: f.default for f in dataclasses.fields(domain)
            if f.default is not dataclasses.MISSING}


@pytest.mark.parametrize(("config", "domains"), PAIRS, ids=[c.__name__ for c, _ in PAIRS])
def test_config_defaults_are_the_domain_defaults(config: type, domains: tuple[type, ...]) -> None:
    shown = {name: field.default for name, field in config.model_fields.items()}
    shared = {(d.__name__, name): (shown[name], default)
              for d in domains for name, default in _domain_defaults(d).items() if name in shown}
    assert shared, f"{config.__name__} exposes no field of {[d.__name__ for d in domains]}"
    drifted = {k: v for k, v in shared.items() if v[0] != v[1]}
    assert not drifted, f"run config default != domain default: {drifted}"


def test_default_configs_build_the_domain_defaults() -> None:
    assert RuleSearchConfig().search() == SearchConfig()
    assert DemandModelConfig().demand() == DemandConfig()
    assert UpliftModelConfig().variants()[0] == UpliftConfig()
