"""The LLM-guided rule search: propose, fit constants, score, remember, reflect.

The paper's loop (Section 3.3, "reflection with memory"): start from an
expert rule; each iteration the LLM sees the best rule so far and the memory
— triples (customer type, rule change, fitness change) — and proposes a
changed rule; its constants are fitted with the structure fixed (phase 2 of
the decoupled search); the result is scored by Φ on the candidate rows and
kept if it beats the best. Customer types are the primary categories: the
memory records where a change helped most and hurt most, so the next prompt
can say which kind of customer a change is good for.

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
from dataclasses import asdict, dataclass, field

import polars as pl

from deeprule.llm import LLMClient
from deeprule.llm.types import BudgetExhausted, LLMCallFailed
from deeprule.rules import Program, decide, fit_constants, parse_program, render_program
from deeprule.search.check import CheckConfig, row_context, rule_problems
from deeprule.search.checkpoint import Checkpoint
from deeprule.search.objective import (
    RULE_FEATURES,
    Candidates,
    FitnessConfig,
    Outcome,
    outcome,
)
from deeprule.search.proposal import ProposalContext, RuleRefused, propose

EXPERT_RULE = """
def stock(row):
    return row.hist_units > 0.0

def price(row):
    return row.usual_price * 1.0
"""
"""The domain-expert starting point: keep what sold, at the usual price."""
SAMPLES_PER_SEED = 100_000
"""Draw numbers reserved per seed: no two seeds' iterations share a cached answer."""
OBJECTIVE = ("maximize expected profit (price - cost) x units over the stocked rows, stay near "
             "the usual price, keep the rule short; units fall as the price rises")


@dataclass(frozen=True)
class SearchConfig:
    iterations: int = 5
    patience: int = 3
    """Stop after this many iterations without a new best."""
    memory_size: int = 6
    """Memory lines quoted in each prompt (the most recent)."""
    fit_evaluations: int = 150
    min_gain: float = 1e-6
    """A proposal replaces the best only if Φ rises by more than this share of |Φ_best|:
    equal rules that differ by solver round-off are `kept`, not `improved`."""
    depth: int = 2
    check_retries: int = 1
    """Asks again (with the reasons) after a proposal the rule check refused."""
    seed: int = 0
    """Which draws the LLM makes: seed 0 asks greedily first, another seed samples
    different answers (each cached apart), so repeated runs are independent."""
    fitness: FitnessConfig = FitnessConfig()
    check: CheckConfig = CheckConfig()


@dataclass(frozen=True)
class Iteration:
    number: int
    status: str
    """`expert`, `improved`, `kept` (no better than the best), `refused` (by the rule check),
    `failed` or `budget`."""
    rule: str
    fitness: float | None
    profit: float | None
    violations: int | None
    delta: float | None
    note: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


@dataclass
class SearchResult:
    best: Program
    best_outcome: Outcome
    best_number: int = 0
    """The iteration that produced `best` (0 = the expert rule)."""
    iterations: list[Iteration] = field(default_factory=list)
    memory: list[str] = field(default_factory=list)

    def table(self) -> pl.DataFrame:
        """One row per iteration; `is_best` marks the one that produced `best`."""
        return pl.DataFrame([vars(i) for i in self.iterations]).with_columns(
            is_best=pl.col("number") == self.best_number)


def fitted(program: Program, cand: Candidates, config: SearchConfig) -> tuple[Program, Outcome]:
    """The program with constants fitted to maximize Φ, and its outcome."""

    def loss(decisions) -> float:
        return -outcome(program, decisions, cand, config.fitness).fitness

    fit = fit_constants(program, cand.columns, loss, max_evaluations=config.fit_evaluations)
    tuned = Program(program.functions, fit.params, program.corrections)
    return tuned, outcome(tuned, decide(tuned, cand.columns), cand, config.fitness)


def _segment_change(before: Outcome, after: Outcome, cand: Candidates) -> str:
    """Which customer types gained most and least: mean profit change per primary category."""
    frame = cand.rows.select("primary_category").with_columns(
        delta=pl.Series(after.row_profit - before.row_profit))
    means = frame.group_by("primary_category").agg(pl.col("delta").mean()).sort("delta")
    worst, best = means.row(0), means.row(-1)
    return (f"profit per row changed most for {best[0]} ({best[1]:+.1f}) and least for "
            f"{worst[0]} ({worst[1]:+.1f})")


def search(client: LLMClient, cand: Candidates, config: SearchConfig = SearchConfig(),
           start: str = EXPERT_RULE,
           progress: Callable[[str], None] = lambda _: None,
           checkpoint: Checkpoint | None = None) -> SearchResult:
    """Run the reflection loop from `start` (or from `checkpoint`); every iteration is
    recorded."""
    result = _resumed(checkpoint, cand, config) if checkpoint else None
    if result is None:
        result = _started(start, cand, config)
    else:
        progress(f"resumed after iteration {result.iterations[-1].number}")
    _save(checkpoint, result)
    stale = _stale(result)
    for number in range(len(result.iterations), config.iterations + 1):
        if stale >= config.patience or result.iterations[-1].status == "budget":
            break
        step = _iterate(client, cand, config, result, number)
        result.iterations.append(step)
        _save(checkpoint, result)
        progress(f"iteration {number}: {step.status} {step.note}")
        stale = 0 if step.status == "improved" else stale + 1
    return result


def _started(start: str, cand: Candidates, config: SearchConfig) -> SearchResult:
    started = time.perf_counter()
    best, best_out = fitted(parse_program(start, RULE_FEATURES), cand, config)
    result = SearchResult(best, best_out)
    note = "expert rule, constants fitted" + "".join(
        f"; read {written!r} as {known!r}" for written, known in best.corrections)
    result.iterations.append(Iteration(0, "expert", render_program(best),
                                       best_out.fitness, best_out.profit, best_out.violations,
                                       None, note, seconds=time.perf_counter() - started))
    return result


def _stale(result: SearchResult) -> int:
    """Iterations since the last new best (the expert rule counts as one)."""
    return len(result.iterations) - 1 - result.best_number


def _save(checkpoint: Checkpoint | None, result: SearchResult) -> None:
    if checkpoint:
        checkpoint.save({"iterations": [asdict(i) for i in result.iterations],
                         "memory": result.memory, "best_number": result.best_number})


def _resumed(checkpoint: Checkpoint, cand: Candidates, config: SearchConfig
             ) -> SearchResult | None:
    """The saved search, its best rule re-parsed from the exact audit text and re-scored."""
    state = checkpoint.load()
    if not state:
        return None
    iterations = [Iteration(**i) for i in state["iterations"]]
    best_text = next(i.rule for i in iterations if i.number == state["best_number"])
    best = parse_program(best_text, RULE_FEATURES)
    out = outcome(best, decide(best, cand.columns), cand, config.fitness)
    return SearchResult(best, out, state["best_number"], iterations, list(state["memory"]))


def _sample(seed: int, number: int) -> int:
    """The LLM draw of iteration `number`: seed 0's first one is greedy (draw 0)."""
    return seed * SAMPLES_PER_SEED + number - 1


def _iterate(client: LLMClient, cand: Candidates, config: SearchConfig, result: SearchResult,
             number: int) -> Iteration:
    started = time.perf_counter()
    context = ProposalContext(RULE_FEATURES, OBJECTIVE,
                              render_program(result.best),
                              tuple(result.memory[-config.memory_size:]), config.depth)
    rows = row_context(cand)
    try:
        proposal = propose(client, context, sample=_sample(config.seed, number),
                           check=lambda program: rule_problems(program, rows, config.check),
                           check_retries=config.check_retries)
    except BudgetExhausted:
        return Iteration(number, "budget", "", None, None, None, None, "token budget spent")
    except LLMCallFailed as err:
        return Iteration(number, "failed", "", None, None, None, None, str(err)[:300],
                         err.record.prompt_tokens, err.record.completion_tokens,
                         time.perf_counter() - started)
    except RuleRefused as err:
        result.memory.extend(f"iteration {number}: {line}" for line in err.refusals)
        return Iteration(number, "refused", "", None, None, None, None, str(err)[:300],
                         err.prompt_tokens, err.completion_tokens,
                         time.perf_counter() - started)
    result.memory.extend(f"iteration {number}: {line}" for line in proposal.refusals)
    program, out = fitted(proposal.program, cand, config)
    delta = out.fitness - result.best_outcome.fitness
    where = _segment_change(result.best_outcome, out, cand)
    text = render_program(program)
    result.memory.append(f"iteration {number}: rule {' '.join(proposal.text.split())!r} "
                         f"stocked {out.stocked:,} of {cand.height:,} rows, priced "
                         f"{out.violations:,} outside [cost, list price], changed fitness by "
                         f"{delta:+.1f}; {where}")
    improved = delta > config.min_gain * abs(result.best_outcome.fitness)
    status = "improved" if improved else "kept"
    if improved:
        result.best, result.best_outcome, result.best_number = program, out, number
    return Iteration(number, status, text, out.fitness, out.profit, out.violations,
                     delta, where, proposal.prompt_tokens, proposal.completion_tokens,
                     time.perf_counter() - started)
