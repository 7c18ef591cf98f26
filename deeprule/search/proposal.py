"""One LLM rule proposal: a prompt, a schema-constrained answer, the compiled IR.

The searcher's inner step. The prompt fixes the task and the feature guide
first (a shared prefix the local runtime reuses) and puts what changes — the
current rule and the feedback from memory — last. The answer is a
`rules.schema` tree, so it can only name known features and bounded numbers;
it becomes IR without any text being run. A `check` (search/check.py) then
refuses degenerate rules before any fitting; its reasons go into the next
prompt, which asks again (at most `check_retries` times).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from deeprule.llm import LLMClient, Prompt
from deeprule.llm.client import CallRecord
from deeprule.llm.types import LLMError
from deeprule.rules import Program, parse_program, render_program
from deeprule.rules.schema import DEFAULT_DEPTH, rule_schema, to_program, to_tree

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
    """The accepted answer's call."""
    refusals: tuple[str, ...] = ()
    """Proposals of this step the check refused first, with why (they were fed back)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    """Over every call of this step, refused proposals included."""


Check = Callable[[Program], list[str]]
"""Reasons a compiled proposal must not be fitted (empty = fine)."""


class RuleRefused(LLMError):
    """Every proposal of one step failed the check; carries the refusals and their tokens."""

    def __init__(self, refusals: Sequence[str], prompt_tokens: int, completion_tokens: int
                 ) -> None:
        super().__init__(refusals[-1], prompt_tokens, completion_tokens)
        self.refusals = tuple(refusals)


def refusal_line(text: str, problems: Sequence[str]) -> str:
    """How a refused proposal is quoted back: the rule on one line and every reason."""
    return (f"refused before fitting: {' '.join(text.split())!r} because "
            + "; ".join(problems))


def proposal_prompt(context: ProposalContext) -> Prompt:
    guide = "\n".join(f"- {name}: {meaning}" for name, meaning in context.features.items())
    system = f"{_TASK}\nGoal: {context.objective}\nFeatures:\n{guide}"
    parts = []
    if context.current_rule:
        parts.append(f"Current rule:\n{context.current_rule.strip()}")
        tree = _answer_form(context)
        if tree:
            parts.append(f"The same rule in the JSON form you answer in:\n{tree}")
    if context.feedback:
        parts.append("What earlier changes did:\n" + "\n".join(f"- {f}"
                                                               for f in context.feedback))
    parts.append("Propose a rule." if not context.current_rule
                 else "Propose a changed rule that should do better.")
    return Prompt(system, "\n\n".join(parts))


def _answer_form(context: ProposalContext) -> str:
    """The current rule as answer JSON: small models copy a form far better than they infer
    it from the grammar alone. Empty when the rule has no such form."""
    try:
        program = parse_program(context.current_rule or "", context.features)
        return json.dumps(to_tree(program))  # the separators llguidance is held to
    except ValueError:
        return ""


def propose(client: LLMClient, context: ProposalContext, sample: int = 0,
            check: Check | None = None, check_retries: int = 1) -> Proposal:
    """Ask for one rule (`sample` > 0: another draw than the greedy one) that passes `check`.

    A refused rule is quoted with its reasons in the next prompt's feedback; after
    `check_retries` more refusals, RuleRefused. LLM failures (after the client's
    retries) and budget exhaustion propagate.
    """
    schema = rule_schema(tuple(context.features), context.depth)
    refusals: list[str] = []
    tokens = [0, 0]
    for _ in range(check_retries + 1):
        asked = replace(context, feedback=(*context.feedback, *refusals))
        result = client.generate(proposal_prompt(asked), schema, sample)
        tokens[0] += result.record.prompt_tokens
        tokens[1] += result.record.completion_tokens
        program = to_program(result.value)
        text = render_program(program)
        problems = check(program) if check else []
        if not problems:
            return Proposal(program, text, result.record, tuple(refusals), *tokens)
        refusals.append(refusal_line(text, problems))
    raise RuleRefused(refusals, *tokens)
