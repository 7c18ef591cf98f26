"""One LLM rule proposal: a prompt from a versioned template, a schema-constrained answer
(a reflection and a rule), the compiled IR.

The searcher's inner step. The prompt (search/prompts/) fixes the task and the feature
guide first (a shared prefix the local runtime reuses) and puts what changes — the
current rule, the failing segments, the previous reflection, memories — last. The
answer is a `reflection` (what the LLM observed, the paper's recorded reflection)
and a `rules.schema` tree, so it can only name known features and bounded numbers;
it becomes IR without any text being run. In the `text` form the rule is instead written
as `def stock(row): return ...` / `def price(row): return ...` text (the paper's form):
the local model is held to the rule grammar (rules/grammar.py), a remote one writes free
text; both are parsed by `parse_program` (never run), near-miss feature names corrected
and reported. A `check` (search/check.py) then refuses degenerate rules before any
fitting, as text that does not parse is refused with the parser's line and column; the
reasons go into the next prompt, which asks again (at most `check_retries` times).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, create_model

from deeprule.llm import LLMClient, Prompt
from deeprule.llm.client import CallRecord
from deeprule.llm.types import GrammarAnswer, LLMError, Spent
from deeprule.rules import Program, RuleSyntaxError, parse_program, render_program
from deeprule.rules.grammar import deepest_fitting, rule_grammar
from deeprule.rules.parse import MAX_SOURCE_CHARS
from deeprule.rules.schema import DEFAULT_DEPTH, rule_schema, to_program, to_tree
from deeprule.search import prompts

REFLECTION_CHARS = 200
"""The reflection's length at most: a sentence or two (generated tokens cost seconds)."""
RULE_FORMS = ("tree", "text")
"""How the LLM writes a rule: a JSON tree in a schema, or `def f(row)` text; the first
is every searcher's default."""
TEXT_EXTRA_DEPTH = 2
"""The text grammar's depth over the tree's: a tree of depth d prices at IR depth d + 1
(its if-else choices included); text spends a level more on chains (`a * b * c`) and
and/or, which trees do not have."""


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
    too well once they have copied the rule itself). The text form needs no such quote."""
    rule_form: str = RULE_FORMS[0]
    """`tree` (a JSON rule tree) or `text` (`def stock(row)` text), RULE_FORMS."""

    def __post_init__(self) -> None:
        if self.rule_form not in RULE_FORMS:
            raise ValueError(f"unknown rule form {self.rule_form!r}; choose one of {RULE_FORMS}")

    @property
    def kind(self) -> str:
        """Which template asks: a restructure, a reflection on results (failing segments,
        examples, a reflection or memories to show), else a construction (from the current
        rule, if any: the direct-LLM ablation sees only that); `_text` for the text form."""
        results = (self.failing, self.examples, self.reflection, self.memories)
        kind = ("restructure" if self.restructure else
                "reflection" if self.current_rule and any(results) else "construction")
        return f"{kind}_text" if self.rule_form == "text" else kind


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
    """Proposals of this step refused first (by the check, or text that did not parse), with
    why (they were fed back)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    """Over every call of this step, refused proposals included."""

    @property
    def corrections(self) -> str:
        """Near-miss feature names the parser read as known ones ("" = none)."""
        return correction_note(self.program)


def correction_note(program: Program) -> str:
    """`read 'cots' as 'cost'`, one per corrected name, as records report them."""
    return "; ".join(f"read {written!r} as {known!r}" for written, known in program.corrections)


Check = Callable[[Program], list[str]]
"""Reasons a compiled proposal must not be fitted (empty = fine)."""


class RuleRefused(LLMError):
    """Every proposal of one step failed the check; carries the refusals and their tokens."""

    def __init__(self, refusals: Sequence[str], spent: Spent) -> None:
        super().__init__(refusals[-1], spent.prompt_tokens, spent.completion_tokens,
                         requests=spent.requests)
        self.refusals = tuple(refusals)


def refusal_line(text: str, problems: Sequence[str]) -> str:
    """How a refused proposal is quoted back: the rule on one line and every reason."""
    return (f"refused before fitting: {' '.join(text.split())!r} because "
            + "; ".join(problems))


def syntax_line(text: str, err: RuleSyntaxError) -> str:
    """How rule text that did not parse is quoted back: the parser's reason with its line
    and column, and the line it points at."""
    lines = text.splitlines()
    at = (f" (that line reads {lines[err.line - 1].strip()!r})"
          if err.line and 0 < err.line <= len(lines) else "")
    return f"not parsed: {err}{at}"


@cache
def answer_schema(features: tuple[str, ...], depth: int = DEFAULT_DEPTH) -> type[BaseModel]:
    """`{"reflection": text, "stock": ..., "price": ...}`: the rule schema with the
    reflection first, so the model says what it saw before it writes the rule."""
    rule = rule_schema(features, depth)
    return create_model(
        "ReflectedRule", __config__=ConfigDict(extra="forbid"),
        reflection=(str, Field(min_length=1, max_length=REFLECTION_CHARS)),
        **{name: (field.annotation, ...) for name, field in rule.model_fields.items()})


class RuleText(GrammarAnswer):
    """A reflection and the rule as text; `text_answer_schema` gives it the grammar."""

    model_config = ConfigDict(extra="forbid")
    reflection: str = Field(min_length=1, max_length=REFLECTION_CHARS)
    rule: str = Field(min_length=1, max_length=MAX_SOURCE_CHARS,
                      description="def stock(row):\n    return <condition>\n\n"
                                  "def price(row):\n    return <expression>")


@cache
def text_answer_schema(features: tuple[str, ...], depth: int = DEFAULT_DEPTH
                       ) -> type[RuleText]:
    """`RuleText` held to the rule grammar over `features` (local backend: `# reflection`
    then the two functions), as deep as the tree form's `depth` allows and the parser's
    limits admit."""
    schema = create_model("ReflectedRuleText", __base__=RuleText)
    grammar = rule_grammar(features, deepest_fitting(features, depth + TEXT_EXTRA_DEPTH))
    schema.lark = grammar.lark()
    return schema


def _schema(context: ProposalContext) -> type[BaseModel]:
    features = tuple(context.features)
    if context.rule_form == "text":
        return text_answer_schema(features, context.depth)
    return answer_schema(features, context.depth)


def _program(answer: BaseModel, context: ProposalContext) -> Program:
    """The IR of an answer (RuleSyntaxError: its text does not parse)."""
    if isinstance(answer, RuleText):
        return parse_program(answer.rule, context.features)
    return to_program(answer)


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
    tree = _answer_form(context) if context.answer_form and context.rule_form == "tree" else ""
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
            check: Check | None = None, check_retries: int = 1,
            max_requests: int = 0) -> Proposal:
    """Ask for one rule (`sample` > 0: another draw than the greedy one) that parses and
    passes `check`.

    A refused rule (or rule text that did not parse) is quoted with its reasons in the
    next prompt's feedback; after `check_retries` more refusals, RuleRefused. LLM
    failures (after the client's retries) and budget exhaustion propagate.
    `max_requests` > 0: what is left of the search's N; no re-ask (of ours or of the
    client's) starts once the model requests sent reach it.
    """
    schema = _schema(context)
    refusals: list[str] = []
    spent = Spent()
    for _ in range(check_retries + 1):
        if spent.requests and 0 < max_requests <= spent.requests:
            break
        asked = replace(context, feedback=(*context.feedback, *refusals))
        result = client.generate(proposal_prompt(asked), schema, sample,
                                 max(max_requests - spent.requests, 1) if max_requests else 0)
        spent.add(result.record)
        try:
            program = _program(result.value, context)
        except RuleSyntaxError as err:  # text outside the language, or a tree too large
            refusals.append(syntax_line(getattr(result.value, "rule", ""), err))
            continue
        text = render_program(program)
        problems = check(program) if check else []
        if not problems:
            return Proposal(program, text, result.record, result.value.reflection.strip(),
                            prompts.template_name(context.kind), tuple(refusals),
                            spent.prompt_tokens, spent.completion_tokens)
        refusals.append(refusal_line(text, problems))
    raise RuleRefused(refusals, spent)
