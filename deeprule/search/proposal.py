"""One LLM rule proposal: a prompt from a versioned template, a schema-constrained answer
(a reflection and a rule), the compiled IR.

The searcher's inner step. The prompt (search/prompts/) fixes the task and the feature
guide first (a shared prefix the local runtime reuses) and puts what changes — the
current rule, the failing segments, the previous reflection, memories — last. The
answer is a `reflection` (what the LLM observed, the paper's recorded reflection)
and a `rules.schema` tree, so it can only name known features and bounded numbers;
it becomes IR without any text being run. A `check` (search/check.py) then refuses
degenerate rules before any fitting; its reasons go into the next prompt, which asks
again (at most `check_retries` times).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, create_model

from deeprule.llm import LLMClient, Prompt
from deeprule.llm.client import CallRecord
from deeprule.llm.types import LLMError
from deeprule.rules import Program, parse_program, render_program
from deeprule.rules.schema import DEFAULT_DEPTH, rule_schema, to_program, to_tree
from deeprule.search import prompts

REFLECTION_CHARS = 200
"""The reflection's length at most: a sentence or two (generated tokens cost seconds)."""


@dataclass(frozen=True)
class Restructure:
    """Why a structure must change: its tuned loss stayed above ξ, with the tree and the
    loss gradient in its constants."""

    tree: str
    loss: float
    gradient: Sequence[str]
    xi: float


@dataclass(frozen=True)
class ProposalContext:
    """What the proposer knows: the features, the goal, and what was tried."""

    features: Mapping[str, str]
    """Feature name -> one-line meaning (the rule's vocabulary)."""
    objective: str
    current_rule: str | None = None
    feedback: Sequence[str] = ()
    """Refused proposals of this step, with why."""
    depth: int = DEFAULT_DEPTH
    reflection: str = ""
    """The previous iteration's reflection."""
    failing: Sequence[str] = ()
    """C_fail: the failing segments with their losses."""
    examples: Sequence[str] = ()
    """The rows with the largest profit gap."""
    memories: Sequence[str] = ()
    """The top-K similar memories."""
    tau: float = 0.0
    restructure: Restructure | None = None
    answer_form: bool = True
    """Quote the current rule in the answer's JSON form too (small models copy a form well —
    too well once they have copied the rule itself)."""

    @property
    def kind(self) -> str:
        """Which template asks: a restructure, a reflection on results (failing segments,
        examples, a reflection or memories to show), else a construction (from the current
        rule, if any: the direct-LLM ablation sees only that)."""
        if self.restructure:
            return "restructure"
        results = (self.failing, self.examples, self.reflection, self.memories)
        return "reflection" if self.current_rule and any(results) else "construction"


@dataclass(frozen=True)
class Proposal:
    program: Program
    text: str
    """The canonical rendering: what is logged, audited and quoted back."""
    record: CallRecord
    """The accepted answer's call."""
    reflection: str = ""
    template: str = ""
    """The prompt template and version it answered (`reflection_v1`)."""
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


@cache
def answer_schema(features: tuple[str, ...], depth: int = DEFAULT_DEPTH) -> type[BaseModel]:
    """`{"reflection": text, "stock": ..., "price": ...}`: the rule schema with the
    reflection first, so the model says what it saw before it writes the rule."""
    rule = rule_schema(features, depth)
    return create_model(
        "ReflectedRule", __config__=ConfigDict(extra="forbid"),
        reflection=(str, Field(min_length=1, max_length=REFLECTION_CHARS)),
        **{name: (field.annotation, ...) for name, field in rule.model_fields.items()})


def proposal_prompt(context: ProposalContext) -> Prompt:
    """The prompt of the context's kind, rendered from its template."""
    restructure = context.restructure
    return prompts.render(
        context.kind, objective=context.objective,
        features="\n".join(f"- {name}: {meaning}" for name, meaning in context.features.items()),
        current=_current(context), feedback=_listed("Not fitted, and why:", context.feedback),
        tau=f"{context.tau:.3f}", failing=_bullets(context.failing),
        examples=_bullets(context.examples), reflection=context.reflection or "(none yet)",
        memories=_bullets(context.memories),
        tree=restructure.tree if restructure else "", xi=f"{restructure.xi:.3f}" if restructure
        else "", loss=f"{restructure.loss:.4f}" if restructure else "",
        gradient=_bullets(restructure.gradient) if restructure else "")


def _current(context: ProposalContext) -> str:
    if not context.current_rule:
        return ""
    text = f"Current rule:\n{context.current_rule.strip()}"
    tree = _answer_form(context) if context.answer_form else ""
    return text + (f"\nThe same rule in the JSON form you answer in:\n{tree}" if tree else "")


def _bullets(lines: Sequence[str]) -> str:
    return "\n".join(f"- {line}" for line in lines) or "(none)"


def _listed(title: str, lines: Sequence[str]) -> str:
    return f"{title}\n{_bullets(lines)}" if lines else ""


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
    schema = answer_schema(tuple(context.features), context.depth)
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
            return Proposal(program, text, result.record, result.value.reflection.strip(),
                            prompts.template_name(context.kind), tuple(refusals), *tokens)
        refusals.append(refusal_line(text, problems))
    raise RuleRefused(refusals, *tokens)
