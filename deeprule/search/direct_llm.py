"""Direct LLM reasoning: the paper's ablation of the optimizer (Table 2, "LLM reasoning").

The LLM is shown the task, the features and the expert rule and asked for a rule,
N times, each a different draw (`sample`); nothing else: its constants are not fitted,
it is told nothing about how earlier rules scored, and no check re-asks. Every answer
is scored as written and the best is kept. What this isolates is what the loop of
the reflection searcher (fitting, memory, checks) adds over the model's own judgement.

The program database (search/database.py) keeps every answer by canonical form: a
repeated rule is recorded as `duplicate` without being scored again; each entry and
iteration names the backend/model that wrote it. The LLM writes the rule as a JSON tree
or as `def stock(row)` text (`rule_form`, as in the reflection searcher: the same
`propose`). Several clients may share the run (search/writers.py: proposal k asks client
k mod their count). N counts model requests (a proposal is one, plus the client's
retries of a malformed answer; recorded as the iteration's `llm_calls`).

With a `Checkpoint`, the records and the database are saved after every proposal: a
killed run resumes after its last finished proposal, and a finished one asks nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from deeprule.llm import LLMClient
from deeprule.llm.types import BudgetExhausted, LLMCallFailed
from deeprule.rules import parse_program
from deeprule.search import prompts
from deeprule.search.checkpoint import Checkpoint
from deeprule.search.database import (
    ProgramDatabase,
    plain_scorer,
    record,
    result_state,
    resumed_result,
    started_result,
)
from deeprule.search.objective import RULE_FEATURES, Candidates, FitnessConfig
from deeprule.search.proposal import ProposalContext, RuleRefused, propose
from deeprule.search.reflect import (
    EXPERT_RULE,
    OBJECTIVE,
    SAMPLES_PER_SEED,
    Iteration,
    SearchConfig,
    SearchResult,
)
from deeprule.search.writers import Writers, llm_identity, requests_sent, writer


@dataclass(frozen=True)
class DirectConfig:
    budget: int = 50
    """N: model requests (one per proposal, plus the client's retries)."""
    depth: int = 2
    seed: int = 0
    rule_form: str = SearchConfig.rule_form
    """`tree` (JSON) or `text` (`def stock(row)`), as in the reflection searcher."""
    fitness: FitnessConfig = FitnessConfig()


def direct(client: Writers, cand: Candidates, config: DirectConfig = DirectConfig(),
           start: str = EXPERT_RULE, progress: Callable[[str], None] = lambda _: None,
           checkpoint: Checkpoint | None = None) -> SearchResult:
    """Ask for rules until `config.budget` model requests were sent, score each as
    written, keep the best; proposals written by `client` (or several in turn).
    `checkpoint`: resume the run saved there under the same settings and LLMs, save after
    each proposal."""
    started = time.perf_counter()
    checkpoint = checkpoint.within("direct_llm", config, start, prompts.VERSIONS,
                                   *llm_identity(client)) if checkpoint else None
    scorer = plain_scorer(cand, config.fitness)
    saved = checkpoint.load() if checkpoint else None
    if saved:
        db = ProgramDatabase.restored(saved["database"], cand, config.fitness, scorer,
                                      config.budget + 1, seed=config.seed)
        result = resumed_result(saved, cand, config.fitness)
        progress(f"resumed after proposal {saved['asked']}")
    else:
        db = ProgramDatabase(scorer, config.budget + 1, seed=config.seed)
        db.add(parse_program(start, RULE_FEATURES), author="expert")
        result = started_result(db.best(), time.perf_counter() - started)
    expert = next(iter(db.entries.values()))
    context = ProposalContext(RULE_FEATURES, OBJECTIVE, expert.text, depth=config.depth,
                              rule_form=config.rule_form)
    asked = saved["asked"] if saved else 0
    while (spent := sum(i.llm_calls for i in result.iterations)) < config.budget \
            and result.iterations[-1].status != "budget":
        asked += 1
        step = _ask(writer(client, asked), context, db, result,
                    config.seed * SAMPLES_PER_SEED + asked - 1, config.budget - spent)
        if checkpoint:
            checkpoint.save({**result_state(result), "database": db.state(), "asked": asked})
        progress(f"proposal {asked}: {step.status}, best Φ {step.fitness:.2f}")
    return result


def _ask(client: LLMClient, context: ProposalContext, db: ProgramDatabase,
         result: SearchResult, draw: int, requests_left: int) -> Iteration:
    """One proposal, scored as written (a duplicate is free) and recorded with the model
    requests it sent as its `llm_calls` (the client's retries included, whatever came of
    them); text that does not parse, or fails after the client's retries, is a `failed`
    iteration. Returns the iteration recorded."""
    began = time.perf_counter()
    sent = requests_sent(client)
    expert = next(iter(db.entries.values()))
    llm = (client.backend.name, client.backend.model)
    try:
        proposal = propose(client, context, sample=draw, check_retries=0,
                           max_requests=requests_left)
    except BudgetExhausted:
        return record(result, None, "budget", "token budget spent",
                      time.perf_counter() - began, llm_calls=requests_sent(client) - sent,
                      llm=llm)
    except (LLMCallFailed, RuleRefused) as err:
        return record(result, None, "failed", str(err)[:300], time.perf_counter() - began,
                      (err.prompt_tokens, err.completion_tokens),
                      requests_sent(client) - sent, llm)
    calls = requests_sent(client) - sent
    known = db.knows(proposal.program)
    llm = (proposal.record.backend, proposal.record.model)
    entry = db.add(proposal.program, author="/".join(llm), parent=expert.key)
    note = (f"proposed again by {'/'.join(llm)}: {entry.summary()}" if known
            else f"proposed {entry.summary()}")
    return record(result, None if known else entry, "duplicate" if known else "kept", note,
                  time.perf_counter() - began,
                  (proposal.prompt_tokens, proposal.completion_tokens), calls, llm,
                  proposal.corrections)
