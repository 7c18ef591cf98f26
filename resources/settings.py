"""Which environment variable sets which resource field: one table, shown in the UI.

A field is given as `dg.EnvVar(NAME)` when NAME is set (the launchpad and the
resource page then name the variable instead of a value, and a secret is never
copied into run config), else the field's own default applies. Nothing under
`deeprule/` reads the environment.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

ENV_FIELDS: dict[str, dict[str, str]] = {
    "world": {"preset": "DEEPRULE_PRESET", "overrides_json": "DEEPRULE_WORLD_OVERRIDES",
              "data_folder": "DEEPRULE_DATA_DIR"},
    "llm": {"backend": "DEEPRULE_LLM_BACKEND", "model": "DEEPRULE_LLM_MODEL",
            "base_url": "OPENAI_BASE_URL", "instructor_mode": "DEEPRULE_LLM_MODE",
            "extraction_model": "DEEPRULE_LLM_EXTRACTION_MODEL",
            "rule_model": "DEEPRULE_LLM_RULE_MODEL",
            "quality_model": "DEEPRULE_LLM_QUALITY_MODEL",
            "summary_model": "DEEPRULE_LLM_SUMMARY_MODEL",
            "system_in_user": "DEEPRULE_LLM_SYSTEM_IN_USER",
            "timeout_s": "DEEPRULE_LLM_TIMEOUT_S",
            "extraction_timeout_s": "DEEPRULE_LLM_EXTRACTION_TIMEOUT_S",
            "rule_timeout_s": "DEEPRULE_LLM_RULE_TIMEOUT_S",
            "quality_timeout_s": "DEEPRULE_LLM_QUALITY_TIMEOUT_S",
            "summary_timeout_s": "DEEPRULE_LLM_SUMMARY_TIMEOUT_S",
            "token_budget": "DEEPRULE_LLM_TOKEN_BUDGET",
            "cache_path": "DEEPRULE_LLM_CACHE"},
    "mlflow": {"tracking_uri": "MLFLOW_TRACKING_URI"},
}
INT_FIELDS = {"token_budget"}
FLOAT_FIELDS = {"timeout_s", "extraction_timeout_s", "rule_timeout_s", "quality_timeout_s",
                "summary_timeout_s"}
BOOL_FIELDS = {"system_in_user"}
"""Dagster has no float or bool EnvVar: these are read here, as values (the UI shows them)."""


def env_settings(resource: str) -> dict[str, Any]:
    """The fields of `resource` that an environment variable sets, as `dg.EnvVar`s."""
    fields = {}
    for field, variable in ENV_FIELDS[resource].items():
        if variable not in os.environ:
            continue
        if field in FLOAT_FIELDS:
            fields[field] = float(os.environ[variable])
        elif field in BOOL_FIELDS:
            fields[field] = os.environ[variable].lower() in ("1", "true")
        elif field in INT_FIELDS:
            fields[field] = dg.EnvVar.int(variable)
        else:
            fields[field] = dg.EnvVar(variable)
    return fields
