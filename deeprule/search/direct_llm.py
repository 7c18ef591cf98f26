"""Direct LLM reasoning: the paper's ablation of the optimizer (Table 2, "LLM reasoning").

The LLM is shown the task, the features and the expert rule and asked for a rule,
N times, each a different draw (`sample`); nothing else: its constants are not fitted,
it is told nothing about how earlier rules scored, and no check re-asks. Every answer
is scored as written and the best is kept. What this isolates is what the loop of
the reflection searcher (fitting, memory, checks) adds over the model's own judgement.

The program database (search/database.py) keeps every answer by canonical form: a
repeated rule is recorded as `duplicate` without being scored again; each entry names
the backend/model that wrote it. N counts LLM proposals (one call each, recorded as the
iteration's `llm_calls`).

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
from deeprule.search.checkpoint import Checkpoint, llm_identity
from deeprule.search.database import (
    ProgramDatabase,
    plain_scorer,
    record,
    result_state,
    resumed_result,
    started_result,
)
from deeprule.search.objective import RULE_FEATURES, Candidates, FitnessConfig
from deeprule.search.proposal import ProposalContext, propose
from deeprule.search.reflect import EXPERT_RULE, OBJECTIVE, SAMPLES_PER_SEED, SearchResult


@dataclass(frozen=True)
class DirectConfig:
    budget: int = 50
    """N: LLM proposals."""
    depth: int = 2
    seed: int = 0
    fitness: FitnessConfig = FitnessConfig()


def direct(client: LLMClient, cand: Candidates, config: DirectConfig = DirectConfig(),
           start: str = EXPERT_RULE, progress: Callable[[str], None] = lambda _: None,
           checkpoint: Checkpoint | None = None) -> SearchResult:
    """Ask for `config.budget` rules, score each as written, keep the best. `checkpoint`:
    resume the run saved there under the same settings and LLM, save after each proposal."""
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
    context = ProposalContext(RULE_FEATURES, OBJECTIVE, expert.text, depth=config.depth)
    asked = saved["asked"] if saved else 0
    while asked < config.budget and result.iterations[-1].status != "budget":
        asked += 1
        _ask(client, context, db, result, config.seed * SAMPLES_PER_SEED + asked - 1)
        if checkpoint:
            checkpoint.save({**result_state(result), "database": db.state(), "asked": asked})
        step = result.iterations[-1]
        progress(f"proposal {asked}: {step.status}, best Φ {step.fitness:.2f}")
    return result


def _ask(client: LLMClient, context: ProposalContext, db: ProgramDatabase,
         result: SearchResult, draw: int) -> None:
    """One proposal, scored as written and recorded (a duplicate is free)."""
    began = time.perf_counter()
    expert = next(iter(db.entries.values()))
    try:
        proposal = propose(client, context, sample=draw)
    except BudgetExhausted:
        record(result, None, "budget", "token budget spent", time.perf_counter() - began)
        return
    except LLMCallFailed as err:
        record(result, None, "failed", str(err)[:300], time.perf_counter() - began,
               (err.record.prompt_tokens, err.record.completion_tokens), llm_calls=1)
        return
    known = db.knows(proposal.program)
    author = f"{proposal.record.backend}/{proposal.record.model}"
    entry = db.add(proposal.program, author=author, parent=expert.key)
    note = (f"proposed again by {author}: {entry.summary()}" if known
            else f"proposed {entry.summary()}")
    record(result, None if known else entry, "duplicate" if known else "kept", note,
           time.perf_counter() - began, (proposal.prompt_tokens, proposal.completion_tokens),
           llm_calls=1)
