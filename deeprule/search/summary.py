"""The phase summary of a search, written by the LLM (the paper's third prompt, Fig. 6).

After the reflection loop, the LLM reads the run's record — every iteration's rule,
outcome and fitness change — and writes what an analyst would: the starting approach,
the major improvements, the trend of the fitness, the final rule's performance, the
features that mattered, limitations and next steps. It is stored with the run
(`rule_search` metadata); nothing downstream acts on it, so a failed summary is
reported, never fatal.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from deeprule.llm import LLMClient, Prompt
from deeprule.llm.types import BudgetExhausted, LLMCallFailed
from deeprule.search.reflect import SearchResult

_TASK = (
    "You review a completed search for an interpretable assortment-and-pricing rule "
    "(`stock` decides which SKUs to recommend to a customer, `price` the unit price). Summarize "
    "the iterative process: 1. the initial rule, 2. the major improvements in each iteration, "
    "3. the trend of the fitness, 4. the final rule's performance, 5. the key features and "
    "their importance, 6. its limitations and suggestions for the next search. Be concrete "
    "and brief. Answer with the JSON record only."
)
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
        lines.append(f"- iteration {step.number} [{step.status}] fitness {fitness}{delta}: "
                     f"{rule} ({step.note[:200]})")
    best = result.best_number
    return Prompt(_TASK, "Search record:\n" + "\n".join(lines)
                  + f"\nThe best rule came from iteration {best}.")


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
