"""Who writes an LLM searcher's proposals: one client, or several sharing the run.

Several backends may write one search (`rule_model="a,b"`): proposal (or, in the tree
search, LLM request) number k is asked of client k modulo their count, so a resumed run
asks each of the same backend as before and finds its answer in that backend's cache;
each iteration records the backend and model that answered. Every searcher that uses an
LLM goes through here, so they share one rotation, one checkpoint identity and one way of
counting what a step cost against the budget N: model requests actually sent.
"""

from __future__ import annotations

from collections.abc import Sequence

from deeprule.llm import LLMClient

Writers = LLMClient | Sequence[LLMClient]
"""Who proposes: one client, or several sharing the run."""


def every(clients: Writers) -> tuple[LLMClient, ...]:
    """The clients as a tuple, one or several alike."""
    return (clients,) if isinstance(clients, LLMClient) else tuple(clients)


def writer(clients: Writers, number: int) -> LLMClient:
    """The client that writes proposal `number` (1-based): round-robin over several."""
    chosen = every(clients)
    return chosen[(number - 1) % len(chosen)]


def llm_identity(clients: Writers) -> tuple[str, ...]:
    """What names the answers the clients give, in rotation order (a checkpoint of an LLM
    searcher is keyed by it; one client keeps the key it always had)."""
    return tuple(part for c in every(clients)
                 for part in (c.backend.name, c.backend.model, c.backend.settings))


def requests_sent(clients: Writers) -> int:
    """Model requests the clients' calls sent so far (retries and the backends' own re-asks
    included; a cached answer counts what it took when made): the difference over one
    step is that step's `llm_calls`. Clients sharing one usage record count once."""
    usages = {id(c.usage): c.usage for c in every(clients)}
    return sum(u.requests() for u in usages.values())


def needs(clients: Writers | None, name: str) -> Writers:
    """The clients of searcher `name`, or a clear error when it was given none."""
    if clients is None or not every(clients):
        raise ValueError(f"searcher {name!r} writes rules with an LLM: pass a client")
    return clients
