"""One LLM rule proposal: a prompt, a schema-constrained answer, the compiled IR.

The searcher's inner step. The prompt fixes the task and the feature guide
first (a shared prefix the local runtime reuses) and puts what changes — the
current rule and the feedback from memory — last. The answer is a
`rules.schema` tree, so it can only name known features and bounded numbers;
it becomes IR without any text being run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from deeprule.llm import LLMClient, Prompt
from deeprule.llm.client import CallRecord
from deeprule.rules import Program, render_program
from deeprule.rules.schema import DEFAULT_DEPTH, rule_schema, to_program

_TASK = (
    "You design an interpretable assortment-and-pricing rule for a distributor. Each row is "
    "one customer and one SKU. The rule has two parts: `stock`, a condition saying whether "
    "to recommend stocking the SKU for that customer, and `price`, an expression giving the "
    "unit price to offer. Build both only from the features listed below and plain numbers. "
    "Prefer short rules a sales manager can read. Answer with the JSON record only."
)


@dataclass(frozen=True)
class ProposalContext:
    """What the proposer knows: the features, the goal, and what was tried."""

    features: Mapping[str, str]
    """Feature name -> one-line meaning (the rule's vocabulary)."""
    objective: str
    current_rule: str | None = None
    feedback: Sequence[str] = ()
    depth: int = DEFAULT_DEPTH


@dataclass(frozen=True)
class Proposal:
    program: Program
    text: str
    """The canonical rendering: what is logged, audited and quoted back."""
    record: CallRecord


def proposal_prompt(context: ProposalContext) -> Prompt:
    guide = "\n".join(f"- {name}: {meaning}" for name, meaning in context.features.items())
    system = f"{_TASK}\nGoal: {context.objective}\nFeatures:\n{guide}"
    parts = []
    if context.current_rule:
        parts.append(f"Current rule:\n{context.current_rule.strip()}")
    if context.feedback:
        parts.append("What earlier changes did:\n" + "\n".join(f"- {f}"
                                                               for f in context.feedback))
    parts.append("Propose a rule." if not context.current_rule
                 else "Propose a changed rule that should do better.")
    return Prompt(system, "\n\n".join(parts))


def propose(client: LLMClient, context: ProposalContext, sample: int = 0) -> Proposal:
    """Ask for one rule (`sample` > 0: another draw than the greedy one); LLM failures
    (after retries) and budget exhaustion propagate."""
    schema = rule_schema(tuple(context.features), context.depth)
    result = client.generate(proposal_prompt(context), schema, sample)
    program = to_program(result.value)
    return Proposal(program, render_program(program), result.record)
