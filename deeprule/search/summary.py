"""The phase summary of a search, written by the LLM (the paper's third prompt, Fig. 6).

After the reflection loop, the LLM reads the run's record — every iteration's rule,
outcome and fitness change — and writes what an analyst would: the starting approach,
the major improvements, the trend of the fitness, the final rule's performance, the
features that mattered, limitations and next steps, with the reflection each
iteration recorded (template `prompts/summary_v1.txt`). It is stored with the run
(`rule_search` metadata); nothing downstream acts on it, so a failed summary is
reported, never fatal.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from deeprule.llm import LLMClient, Prompt
from deeprule.llm.types import BudgetExhausted, LLMCallFailed
from deeprule.search import prompts
from deeprule.search.reflect import SearchResult

MAX_RULE_CHARS = 300
"""Each iteration's rule is quoted up to this length (prompts stay small)."""


class PhaseSummary(BaseModel):
    model_config = ConfigDict(extra="forbid")

    initial_approach: str = Field(max_length=200)
    improvements: str = Field(max_length=300)
    fitness_trend: str = Field(max_length=200)
    final_performance: str = Field(max_length=200)
    key_features: list[str] = Field(max_length=6)
    limitations: str = Field(max_length=250)


def summary_prompt(result: SearchResult) -> Prompt:
    lines = []
    for step in result.iterations:
        rule = " ".join(step.rule.split())[:MAX_RULE_CHARS] or "(no rule)"
        fitness = "n/a" if step.fitness is None else f"{step.fitness:.2f}"
        delta = "" if step.delta is None else f", change {step.delta:+.2f}"
        reflection = f" reflection: {step.reflection}" if step.reflection else ""
        lines.append(f"- iteration {step.number} [{step.status}] fitness {fitness}{delta}: "
                     f"{rule} ({step.note[:200]}){reflection}")
    return prompts.render("summary", record="\n".join(lines), best=str(result.best_number))


def phase_summary(client: LLMClient, result: SearchResult) -> tuple[PhaseSummary | None, str]:
    """(the summary, "") or (None, why there is none): a failed call or a spent budget never
    stops a search (a setup that cannot work still does)."""
    try:
        return client.generate(summary_prompt(result), PhaseSummary).value, ""
    except (LLMCallFailed, BudgetExhausted) as err:
        return None, f"no phase summary: {err}"[:300]


def summary_markdown(summary: PhaseSummary) -> str:
    """The summary as a person reads it in the UI."""
    return "\n".join([
        f"**Initial approach.** {summary.initial_approach}",
        f"**Improvements.** {summary.improvements}",
        f"**Fitness trend.** {summary.fitness_trend}",
        f"**Final performance.** {summary.final_performance}",
        f"**Key features.** {', '.join(summary.key_features) or '(none named)'}",
        f"**Limitations and next steps.** {summary.limitations}",
    ])
