"""The LLM-guided rule search: the paper's reflection loop (Section 3.3) with memory.

Start from an expert rule, its constants fitted. Each iteration scores the best rule
per customer segment — L_t(c), the share of the demand model's attainable profit it
leaves behind (search/segments.py) — and asks the LLM for a changed rule, giving it
the failing segments C_fail = {c | L_t(c) > τ} with their losses, the rows with the
largest gap, the previous reflection and the top-K most similar memories
(search/memory.py, MiniLM embeddings). The LLM answers a reflection and a rule; the
rule's constants are fitted to Φ with the structure fixed (phase 2 of the decoupled
search), it is scored, kept if Φ beats the best, and the memory gains the triple
(customer type, rule change, loss change). When a fitted proposal's loss stays above
ξ, the next iteration asks the LLM to restructure it instead, showing its syntax tree
and the loss gradient in its constants (search/restructure.py). The search stops when
max_c L_t(c) < ε, after `iterations` (T_max) or after `patience` iterations without
a new best. Prompts come from versioned templates (search/prompts/); each iteration
records the template it was asked with and the reflection it got.

With a `Checkpoint`, the state (iterations, memory, best rule) is saved after every
iteration; a killed search started again with the same checkpoint resumes after the
last finished iteration, and its proposals come from the LLM cache.

A failed proposal (invalid after retries) is an iteration with status
`failed`, not a crash; a spent token budget ends the search cleanly. A
proposal the rule check refuses (search/check.py: always/never-true
conditions, identical branches, constants, unit mix-ups) is asked again with
the reason; refused twice, the iteration is `refused`; refusals stay in memory.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from typing import get_args, get_type_hints

import numpy as np
import polars as pl

from deeprule.features.embedding import PackagedSentenceEncoder, TextEncoder
from deeprule.llm import LLMClient
from deeprule.llm.types import BudgetExhausted, LLMCallFailed
from deeprule.rules import Program, decide, fit_constants, parse_program, render_program
from deeprule.search import prompts
from deeprule.search.check import CheckConfig, RowContext, row_context, rule_problems
from deeprule.search.checkpoint import Checkpoint
from deeprule.search.forge import Forge, Individual, MutationConfig, too_large
from deeprule.search.memory import MemoryBank, MemoryEntry
from deeprule.search.objective import (
    RULE_FEATURES,
    Candidates,
    FitnessConfig,
    Outcome,
    outcome,
)
from deeprule.search.proposal import (
    RULE_FORMS,
    ProposalContext,
    Restructure,
    RuleRefused,
    correction_note,
    propose,
)
from deeprule.search.restructure import gradient_lines, loss_gradient, syntax_tree
from deeprule.search.segments import (
    Attainable,
    attainable,
    failing,
    loss_by_segment,
    overall_loss,
    segment_losses,
    worst_examples,
)
from deeprule.search.writers import Writers, requests_sent, writer

EXPERT_RULE = """
def stock(row):
    return row.hist_units > 0.0

def price(row):
    return row.usual_price * 1.0
"""
"""The domain-expert starting point: keep what sold, at the usual price."""
SAMPLES_PER_SEED = 100_000
"""Draw numbers reserved per seed: no two seeds' iterations share a cached answer."""
MUTATED = "a mutation of the proposal"
"""How an iteration's note begins when the LLM repeated a fitted structure and one random
mutation of it was fitted instead (`mutate_repeats`)."""
MUTATION_STREAM = 2
"""Keeps the mutations' draws apart from the other seeded streams of a seed."""
REFUSED = "refused by the rule check"
"""The outcome a memory records for a proposal never fitted."""
OBJECTIVE = ("maximize expected profit (price - cost) x units over the stocked rows, stay near "
             "the usual price, keep the rule short; units fall as the price rises")


@dataclass(frozen=True)
class SearchConfig:
    iterations: int = 5
    """T_max, the budget N: iterations at most, and model requests at most (a check's
    re-asks and the client's retries count: the last iterations ask fewer, or none, rather
    than overrun N)."""
    patience: int = 3
    """Stop after this many iterations without a new best."""
    tau: float = 0.05
    """τ: a segment whose loss L(c) is above this fails (its share of attainable profit left)."""
    epsilon: float = 0.01
    """ε: stop once every segment's loss of the best rule is below this."""
    xi: float = 0.10
    """ξ: a fitted proposal whose loss stays above this is restructured next iteration."""
    top_k: int = 3
    """K: memories quoted in each prompt, the most similar to the failing segments."""
    failing_shown: int = 3
    """Failing segments quoted in each prompt, worst first."""
    examples_shown: int = 4
    """Rows with the largest profit gap quoted in each prompt."""
    fit_evaluations: int = 150
    min_gain: float = 1e-6
    """A proposal replaces the best only if Φ rises by more than this share of |Φ_best|:
    equal rules that differ by solver round-off are `kept`, not `improved`."""
    depth: int = 2
    check_retries: int = 1
    """Asks again (with the reasons) after a proposal the rule check refused."""
    mutate_repeats: bool = True
    """A proposal repeating a structure already fitted is varied by one random mutation
    (search/forge.py: Appendix G's operators) until its structure is new and the check
    passes, and that is fitted. The embedded 1.5B model mostly copies the rule it is
    shown (44 of 48 iterations on `demo`): a repeat otherwise spends a request for nothing.
    Off: the iteration is `repeated`, as in the paper's loop."""
    mutation_attempts: int = 100
    """Mutations tried on a repeat before it is recorded `repeated` after all. Most leave a
    small rule's structure as it was (a constant perturbed, a leaf pruned): with 20, 9 of
    29 copies of the expert rule found no new structure that passes the check; with 100,
    none failed (each try costs a rendering, and the check only for a new structure)."""
    mutation: MutationConfig = MutationConfig()
    hide_form_after_miss: bool = False
    """Quote the current rule's JSON form only right after a new best. The embedded model
    copies the form verbatim (every iteration `repeated`); without it it writes new rules,
    but longer ones, often refused and re-asked: on make run's data 2-3x the seconds per
    iteration (docs/search.md), so it is off by default."""
    seed: int = 0
    """Which draws the LLM makes: seed 0 asks greedily first, another seed samples
    different answers (each cached apart), so repeated runs are independent."""
    rule_form: str = RULE_FORMS[0]
    """How the LLM writes rules: `tree` (JSON in a schema) or `text` (`def stock(row)`
    text, grammar-constrained on the local model; docs/search.md)."""
    fitness: FitnessConfig = FitnessConfig()
    check: CheckConfig = CheckConfig()


@dataclass(frozen=True)
class Iteration:
    number: int
    status: str
    """`expert`, `improved`, `kept` (no better than the best), `refused` (by the rule check),
    `repeated` (a structure already fitted: not fitted again), `failed` or `budget`."""
    rule: str
    fitness: float | None
    profit: float | None
    violations: int | None
    delta: float | None
    note: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0
    template: str = ""
    """The prompt template it was asked with (`reflection_v1`, `restructure_v1`)."""
    reflection: str = ""
    """The LLM's reflection, quoted in the next prompt."""
    loss: float | None = None
    """The rule's relative profit shortfall over all rows (search/segments.py)."""
    max_segment_loss: float | None = None
    worst_segment: str = ""
    llm_calls: int = 0
    """Model requests this iteration sent (our re-asks, the client's retries and the
    backend's own re-asks included; a cached answer counts what it took when made, so a
    rerun is the same run): what the budget N counts for the LLM searchers."""
    llm_backend: str = ""
    llm_model: str = ""
    """Who wrote the proposal ("" = no LLM: the expert rule)."""
    corrections: str = ""
    """Near-miss feature names of the proposal read as known ones."""


@dataclass
class SearchResult:
    best: Program
    best_outcome: Outcome
    best_number: int = 0
    """The iteration that produced `best` (0 = the expert rule)."""
    iterations: list[Iteration] = field(default_factory=list)
    memory: MemoryBank = field(default_factory=MemoryBank)
    segments: pl.DataFrame | None = None
    """The best rule's loss per segment, worst first (the reflection loop sets it)."""
    stopped: str = ""
    """Why the loop ended: `converged` (max L(c) < ε), `patience`, `iterations`, `calls` (N
    LLM requests made), `budget` (tokens)."""

    def table(self) -> pl.DataFrame:
        """One row per iteration; `is_best` marks the one that produced `best`."""
        return pl.DataFrame([vars(i) for i in self.iterations], schema=iteration_schema()
                            ).with_columns(is_best=pl.col("number") == self.best_number)


@cache
def iteration_schema() -> dict[str, type[pl.DataType]]:
    """Iteration's columns typed from its fields, not from the values: a long search whose
    first iterations all left a column null (repeats are not scored) still gets its floats
    (polars infers a type from the first 100 rows only)."""
    return {name: _column_type(hint) for name, hint in get_type_hints(Iteration).items()}


def _column_type(hint: object) -> type[pl.DataType]:
    """The polars type of a field typed `int`, `float` or `str`, or one of them `| None`."""
    base = next(a for a in (get_args(hint) or (hint,)) if a is not type(None))
    return {int: pl.Int64, float: pl.Float64, str: pl.String}[base]


@dataclass(frozen=True)
class _Market:
    """What every iteration scores against: the rows, the settings, the attainable profit."""

    cand: Candidates
    config: SearchConfig
    upper: Attainable
    """u_i: the best row value the demand model allows (the segment losses' reference)."""
    encoder: TextEncoder

    def score(self, program: Program) -> tuple[Outcome, pl.DataFrame, float]:
        """Outcome, segment losses and overall loss of `program`."""
        out = outcome(program, decide(program, self.cand.columns), self.cand,
                      self.config.fitness)
        return out, segment_losses(out, self.cand, self.upper), overall_loss(out, self.upper)


def fitted(program: Program, cand: Candidates, config: SearchConfig) -> tuple[Program, Outcome]:
    """The program with constants fitted to maximize Φ, and its outcome."""

    def loss(decisions) -> float:
        return -outcome(program, decisions, cand, config.fitness).fitness

    fit = fit_constants(program, cand.columns, loss, max_evaluations=config.fit_evaluations)
    tuned = Program(program.functions, fit.params, program.corrections)
    return tuned, outcome(tuned, decide(tuned, cand.columns), cand, config.fitness)


def search(client: Writers, cand: Candidates, config: SearchConfig = SearchConfig(),
           start: str = EXPERT_RULE,
           progress: Callable[[str], None] = lambda _: None,
           checkpoint: Checkpoint | None = None,
           encoder: TextEncoder | None = None,
           on_iteration: Callable[[Iteration], None] = lambda _: None) -> SearchResult:
    """Run the reflection loop from `start` (or from `checkpoint`), proposals written by
    `client` (or by several in turn, `writer`); every iteration is recorded, and handed
    to `on_iteration` the moment it finishes (the expert rule's too on a fresh start).
    `encoder` embeds memories for retrieval (default: the packaged MiniLM, loaded only once
    the memory holds more than K entries)."""
    market = _Market(cand, config, attainable(cand, config.fitness.eta),
                     encoder or PackagedSentenceEncoder())
    result = _resumed(checkpoint, market) if checkpoint else None
    if result is None:
        result = _started(start, market)
        on_iteration(result.iterations[0])
    else:
        progress(f"resumed after iteration {result.iterations[-1].number}")
    _save(checkpoint, result)
    for number in range(len(result.iterations), config.iterations + 1):
        result.stopped = _stop_reason(result, config)
        if result.stopped:
            break
        asked = requests_sent(client)
        step = _iterate(writer(client, number), market, result, number)
        step = replace(step, llm_calls=requests_sent(client) - asked)
        result.iterations.append(step)
        _save(checkpoint, result)
        on_iteration(step)
        progress(f"iteration {number}: {step.status} {step.note}")
    result.stopped = result.stopped or _stop_reason(result, config) or "iterations"
    return result


def _calls(result: SearchResult) -> int:
    return sum(i.llm_calls for i in result.iterations)


def _stop_reason(result: SearchResult, config: SearchConfig) -> str:
    """Why no further iteration runs ("" = go on)."""
    if result.iterations[-1].status == "budget":
        return "budget"
    if _calls(result) >= config.iterations:
        return "calls"
    if result.segments is not None and result.segments["loss"].max() < config.epsilon:
        return "converged"
    if len(result.iterations) - 1 - result.best_number >= config.patience:
        return "patience"
    return ""


def _started(start: str, market: _Market) -> SearchResult:
    started = time.perf_counter()
    best, best_out = fitted(parse_program(start, RULE_FEATURES), market.cand, market.config)
    _, losses, loss = market.score(best)
    result = SearchResult(best, best_out, segments=losses)
    result.iterations.append(Iteration(0, "expert", render_program(best),
                                       best_out.fitness, best_out.profit, best_out.violations,
                                       None, "expert rule, constants fitted",
                                       seconds=time.perf_counter() - started,
                                       corrections=correction_note(best),
                                       **_loss_fields(losses, loss)))
    return result


def _loss_fields(losses: pl.DataFrame, loss: float) -> dict:
    return {"loss": loss, "max_segment_loss": float(losses["loss"][0]),
            "worst_segment": str(losses["segment"][0])}


def _save(checkpoint: Checkpoint | None, result: SearchResult) -> None:
    if checkpoint:
        checkpoint.save({"iterations": [asdict(i) for i in result.iterations],
                         "memory": [asdict(e) for e in result.memory.entries],
                         "best_number": result.best_number})


def _resumed(checkpoint: Checkpoint, market: _Market) -> SearchResult | None:
    """The saved search, its best rule re-parsed from the exact audit text and re-scored."""
    state = checkpoint.load()
    if not state:
        return None
    iterations = [Iteration(**i) for i in state["iterations"]]
    best_text = next(i.rule for i in iterations if i.number == state["best_number"])
    best = parse_program(best_text, RULE_FEATURES)
    out, losses, _ = market.score(best)
    memory = MemoryBank([MemoryEntry(**e) for e in state["memory"]])
    return SearchResult(best, out, state["best_number"], iterations, memory, losses)


def _sample(seed: int, number: int) -> int:
    """The LLM draw of iteration `number`: seed 0's first one is greedy (draw 0)."""
    return seed * SAMPLES_PER_SEED + number - 1


def _context(market: _Market, result: SearchResult, losses: pl.DataFrame
             ) -> tuple[ProposalContext, list[str]]:
    """The prompt's content and the segments it targets (C_fail, else the worst one): a
    restructure of the last proposal when its fitted loss stayed above ξ, else a
    reflection on the best rule's failing segments (`hide_form_after_miss`: the
    current rule as text alone once an answer brought nothing new)."""
    config = market.config
    fails = failing(losses, config.tau, config.failing_shown)
    targets = fails["segment"].to_list() or losses["segment"].head(1).to_list()
    last = result.iterations[-1]
    reflection = next((i.reflection for i in reversed(result.iterations) if i.reflection), "")
    memories = [e.line() for e in result.memory.similar(targets, config.top_k, market.encoder)]
    common = {"features": RULE_FEATURES, "objective": OBJECTIVE, "depth": config.depth,
              "reflection": reflection, "memories": memories, "tau": config.tau,
              "feedback": _last_refusal(last), "rule_form": config.rule_form,
              "answer_form": (not config.hide_form_after_miss
                              or last.status in ("expert", "improved"))}
    if _needs_restructure(last, config):
        program = parse_program(last.rule, RULE_FEATURES)
        gradient = loss_gradient(program, lambda p: market.score(p)[2])
        return ProposalContext(current_rule=last.rule, restructure=Restructure(
            syntax_tree(program), last.loss or 0.0, gradient_lines(program, gradient),
            config.xi), **common), targets
    examples = worst_examples(result.best, result.best_outcome, market.cand, market.upper,
                              targets, config.examples_shown)
    return ProposalContext(
        current_rule=render_program(result.best), examples=examples,
        failing=[f"{r['segment']}: loss {r['loss']:.3f} over {r['rows']:,} rows"
                 for r in fails.iter_rows(named=True)], **common), targets


def _last_refusal(last: Iteration) -> tuple[str, ...]:
    """The previous answer, when it was refused or repeated, and why: said again at once."""
    if last.status not in ("refused", "repeated"):
        return ()
    rule = f"{' '.join(last.rule.split())!r}: " if last.rule else ""
    return (f"iteration {last.number}: {rule}{last.note}",)


def _needs_restructure(last: Iteration, config: SearchConfig) -> bool:
    """The last iteration fitted a reflected proposal whose loss stayed above ξ."""
    return (last.status in ("improved", "kept") and last.template.startswith("reflection")
            and last.loss is not None and last.loss > config.xi)


def structure(program: Program) -> str:
    """A rule's text with every constant written as 0: what fitting cannot change."""
    return render_program(program, [0.0] * len(program.constants))


def _tried_structures(result: SearchResult) -> dict[str, int]:
    """Structure -> the iteration that first fitted it (the expert rule included)."""
    tried: dict[str, int] = {}
    for step in result.iterations:
        if step.rule:
            tried.setdefault(structure(parse_program(step.rule, RULE_FEATURES)), step.number)
    return tried


def _repeated(program: Program, tried: dict[str, int]) -> str:
    """Why a structure already fitted is not fitted again ("" = new): its constants would
    land where they did, so the answer is known. Not asked again at once (an extra call
    per iteration); the next prompt quotes the reason."""
    number = tried.get(structure(program))
    if number is None:
        return ""
    return (f"not fitted: the same structure as the rule of iteration {number} (only the "
            "constants differ, and they are tuned anyway); change features, conditions or "
            "the form of the price")


def _varied(program: Program, market: _Market, rows: RowContext, tried: dict[str, int],
            number: int) -> Program | None:
    """`program` changed by one mutation of its stock or price into a structure not yet
    tried that the check passes (None: off, or none in `mutation_attempts`). Drawn with
    the iteration's own seed, so a resumed search varies it the same way."""
    config = market.config
    if not config.mutate_repeats:
        return None
    forge = Forge(market.cand, config.mutation,
                  np.random.default_rng((config.seed, number, MUTATION_STREAM)))
    parent = Individual.of(program)
    for _ in range(config.mutation_attempts):
        name = "stock" if forge.rng.random() < 0.5 else "price"
        root = getattr(parent, name)
        child = replace(parent, **{name: forge.mutate(root)}).program()
        if (type(child.functions[name]) is type(root) and structure(child) not in tried
                and not too_large(child, config.mutation)
                and not rule_problems(child, rows, config.check)):
            return child
    return None


def _iterate(client: LLMClient, market: _Market, result: SearchResult,
             number: int) -> Iteration:
    started = time.perf_counter()
    config, cand, losses = market.config, market.cand, result.segments
    if losses is None:
        raise ValueError("the reflection loop needs the best rule's segment losses")
    context, targets = _context(market, result, losses)
    target, template = targets[0], prompts.template_name(context.kind)
    before = loss_by_segment(losses)
    rows = row_context(cand)
    tried = _tried_structures(result)

    def memory(change: str, reflection: str, after: float | None, why: str) -> MemoryEntry:
        return MemoryEntry(number, target, " ".join(change.split()), before[target], after,
                           reflection, why)

    author = {"llm_backend": client.backend.name, "llm_model": client.backend.model}
    try:
        proposal = propose(client, context, sample=_sample(config.seed, number),
                           check=lambda program: rule_problems(program, rows, config.check),
                           check_retries=config.check_retries,
                           max_requests=config.iterations - _calls(result))
    except BudgetExhausted:
        return Iteration(number, "budget", "", None, None, None, None, "token budget spent",
                         template=template, **author)
    except LLMCallFailed as err:
        return Iteration(number, "failed", "", None, None, None, None, str(err)[:300],
                         err.record.prompt_tokens, err.record.completion_tokens,
                         time.perf_counter() - started, template, **author)
    except RuleRefused as err:
        result.memory.add([memory(line, "", None, REFUSED) for line in err.refusals])
        return Iteration(number, "refused", "", None, None, None, None, str(err)[:300],
                         err.prompt_tokens, err.completion_tokens,
                         time.perf_counter() - started, template, **author)
    result.memory.add([memory(line, "", None, REFUSED) for line in proposal.refusals])
    author |= {"llm_backend": proposal.record.backend, "llm_model": proposal.record.model,
               "corrections": proposal.corrections}
    repeat = _repeated(proposal.program, tried)
    varied = _varied(proposal.program, market, rows, tried, number) if repeat else None
    if repeat and varied is None:
        result.memory.add([memory(proposal.text, proposal.reflection, None, repeat)])
        return Iteration(number, "repeated", proposal.text, None, None, None, None, repeat,
                         proposal.prompt_tokens, proposal.completion_tokens,
                         time.perf_counter() - started, proposal.template, proposal.reflection,
                         **author)
    program, out = fitted(varied or proposal.program, cand, config)
    _, scored, loss = market.score(program)
    delta = out.fitness - result.best_outcome.fitness
    change = render_program(varied) if varied else proposal.text
    result.memory.add([memory(change, proposal.reflection,
                              loss_by_segment(scored)[target], "fitted")])
    improved = delta > config.min_gain * abs(result.best_outcome.fitness)
    if improved:
        result.best, result.best_outcome, result.best_number = program, out, number
        result.segments = scored
    origin = (f"{MUTATED}, which repeated the structure of iteration "
              f"{tried[structure(proposal.program)]}; " if varied else "")
    note = (f"{origin}stocked {out.stocked:,} of {cand.height:,} rows, {out.violations:,} priced "
            f"outside [cost, list]; loss {loss:.3f}, in {target} {before[target]:.3f} -> "
            f"{loss_by_segment(scored)[target]:.3f}")
    return Iteration(number, "improved" if improved else "kept", render_program(program),
                     out.fitness, out.profit, out.violations, delta, note,
                     proposal.prompt_tokens, proposal.completion_tokens,
                     time.perf_counter() - started, proposal.template, proposal.reflection,
                     **_loss_fields(scored, loss), **author)
