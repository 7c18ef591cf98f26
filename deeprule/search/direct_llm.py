"""Direct LLM reasoning: the paper's ablation of the optimizer (Table 2, "LLM reasoning").

The LLM is shown the task, the features and the expert rule and asked for a rule,
N times, each a different draw (`sample`); nothing else: its constants are not fitted,
it is told nothing about how earlier rules scored, and no check re-asks. Every answer
is scored as written and the best is kept. What this isolates is what the loop of
the reflection searcher (fitting, memory, checks) adds over the model's own judgement.

The program database (search/database.py) keeps every answer by canonical form: a
repeated rule is recorded as `duplicate` without being scored again; each entry names
the backend/model that wrote it. N counts LLM proposals (one call each).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from deeprule.llm import LLMClient
from deeprule.llm.types import BudgetExhausted, LLMCallFailed
from deeprule.rules import parse_program
from deeprule.search.database import ProgramDatabase, plain_scorer, record, started_result
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
           start: str = EXPERT_RULE, progress: Callable[[str], None] = lambda _: None
           ) -> SearchResult:
    """Ask for `config.budget` rules, score each as written, keep the best."""
    started = time.perf_counter()
    db = ProgramDatabase(plain_scorer(cand, config.fitness), config.budget + 1, seed=config.seed)
    expert = db.add(parse_program(start, RULE_FEATURES), author="expert")
    result = started_result(expert, time.perf_counter() - started)
    context = ProposalContext(RULE_FEATURES, OBJECTIVE, expert.text, depth=config.depth)
    for number in range(1, config.budget + 1):
        began = time.perf_counter()
        draw = config.seed * SAMPLES_PER_SEED + number - 1
        try:
            proposal = propose(client, context, sample=draw)
        except BudgetExhausted:
            record(result, None, "budget", "token budget spent", time.perf_counter() - began)
            break
        except LLMCallFailed as err:
            record(result, None, "failed", str(err)[:300], time.perf_counter() - began,
                   (err.record.prompt_tokens, err.record.completion_tokens))
            continue
        known = db.knows(proposal.program)
        author = f"{proposal.record.backend}/{proposal.record.model}"
        entry = db.add(proposal.program, author=author, parent=expert.key)
        note = (f"proposed again by {author}: {entry.summary()}" if known
                else f"proposed {entry.summary()}")
        step = record(result, None if known else entry, "duplicate" if known else "kept", note,
                      time.perf_counter() - began,
                      (proposal.prompt_tokens, proposal.completion_tokens))
        progress(f"proposal {number}: {step.status}, best Φ {step.fitness:.2f}")
    return result
