"""Reinforcement learning over rule tokens: the paper's RL baseline searcher (Appendix G).

Writing a rule is an MDP: the state is the partial rule (search/tokens.py), an action
appends one token (an operator, a feature or a constant), transitions are
deterministic, and the reward is sparse — 0 until the rule is finished, then its Φ
(as `relative_reward`, tanh of the gain over the expert rule: a monotone, bounded
transform of Φ). The constants of a finished rule are fitted (Powell, as in the
structure/parameter split of the LLM searcher) before Φ is taken, so the agent
learns structures, not numbers.

A DQN learns the token values: a small MLP Q-network on a fixed encoding of the
partial rule, ε-greedy behaviour with ε decayed per episode (a random action draws the token kind
— operator, feature, number — first, then the token), a uniqueness-preserving
replay buffer (one slot per distinct (partial rule, token)), TD targets from a target
network that follows the Q-network softly. Appendix G's setting, scaled to 2 CPU
cores and budgets of 50-300 rules: 128 hidden units instead of 256, batches of 64
instead of 128, uniform rather than prioritized replay, no separate policy network
(the greedy policy of Q), ε from 1.0 to 0.1 with decay 0.99 per episode (the paper's
0.995 spans 5,000 episodes).

The budget N counts distinct rules scored (program database, search/database.py):
an episode that rebuilds a known rule gets its stored reward for free. Episodes are
capped at `episodes_per_rule` x N, so a converged policy stops the run.

With a `Checkpoint`, everything the rest of the run depends on — Q-network, target
network, optimizer state, replay buffer, ε, the random streams, the database and the
records — is saved (`torch.save`, one file renamed into place) after every episode that
scored a new rule: a killed run resumes there and ends where an uninterrupted one would.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from deeprule.rules import parse_program
from deeprule.search.checkpoint import Checkpoint
from deeprule.search.database import (
    ProgramDatabase,
    fitting_scorer,
    record,
    result_state,
    resumed_result,
    started_result,
)
from deeprule.search.objective import RULE_FEATURES, Candidates, FitnessConfig
from deeprule.search.reflect import EXPERT_RULE, SearchResult
from deeprule.search.tokens import OPERATORS, Grammar, Partial, relative_reward


@dataclass(frozen=True)
class RLConfig:
    budget: int = 300
    """N: distinct rules scored (the expert rule included)."""
    max_stock_tokens: int = Grammar.max_stock_tokens
    max_price_tokens: int = Grammar.max_price_tokens
    hidden: int = 128
    learning_rate: float = 1e-3
    gamma: float = 0.95
    epsilon_start: float = 1.0
    epsilon_min: float = 0.1
    epsilon_decay: float = 0.99
    """Per episode."""
    replay_capacity: int = 10_000
    batch_size: int = 64
    updates_per_episode: int = 2
    target_tau: float = 0.05
    """Soft target update share, applied every `target_every` gradient steps."""
    target_every: int = 5
    episodes_per_rule: int = 20
    fit_evaluations: int = 60
    threads: int = 1
    seed: int = 0
    fitness: FitnessConfig = FitnessConfig()


class _Encoder:
    """A partial rule as a fixed-length vector: phase, slots left, length used, the
    operator whose operand is being written and which side, the previous token, and the
    token counts of each phase (Appendix G's "stack depth, operator distributions and
    complexity" features, widened to name which features are used)."""

    def __init__(self, grammar: Grammar) -> None:
        self.grammar = grammar
        self.n = len(grammar.tokens)
        self.size = 2 + 2 + (len(OPERATORS) + 1) + 1 + (self.n + 1) + 2 * self.n

    def __call__(self, state: Partial) -> np.ndarray:
        g, n = self.grammar, self.n
        out = np.zeros(self.size, dtype=np.float32)
        phase, current = state.phase, state.current
        out[phase] = 1.0
        out[2] = state.open_slots() / g.limit(phase)
        out[3] = len(current) / g.limit(phase)
        parent, right_side = _parent(current)
        out[4 + (OPERATORS.index(parent) if parent else len(OPERATORS))] = 1.0
        at = 4 + len(OPERATORS) + 1
        out[at] = float(right_side)
        previous = current[-1] if current else None
        out[at + 1 + (g.index[previous] if previous else n)] = 1.0
        at += 2 + n
        for phase_number, tokens in enumerate((state.stock, state.price)):
            for token in tokens:
                out[at + phase_number * n + g.index[token]] += 1.0 / g.limit(phase_number)
        return out

    def mask(self, state: Partial) -> np.ndarray:
        legal = np.zeros(self.n, dtype=bool)
        legal[[self.grammar.index[t] for t in state.legal()]] = True
        return legal


def _parent(tokens: tuple[str, ...]) -> tuple[str | None, bool]:
    """The operator whose operand comes next, and whether it is its right operand."""
    stack: list[list] = []  # [operator, operands still missing]
    for token in tokens:
        if token in OPERATORS:
            stack.append([token, 2])
            continue
        while stack:
            stack[-1][1] -= 1
            if stack[-1][1]:
                break
            stack.pop()
    if not stack:
        return None, False
    return stack[-1][0], stack[-1][1] == 1


@dataclass(frozen=True)
class _Transition:
    state: np.ndarray
    action: int
    reward: float
    following: np.ndarray
    following_mask: np.ndarray
    done: bool


class _Agent:
    """Q-network, target network, replay buffer and ε schedule."""

    def __init__(self, encoder: _Encoder, config: RLConfig, rng: np.random.Generator) -> None:
        self.config, self.encoder, self.rng = config, encoder, rng
        n_in, n_out = encoder.size, encoder.n
        self.q = nn.Sequential(nn.Linear(n_in, config.hidden), nn.ReLU(),
                               nn.Linear(config.hidden, config.hidden), nn.ReLU(),
                               nn.Linear(config.hidden, n_out))
        self.target = copy.deepcopy(self.q)
        self.optimizer = torch.optim.Adam(self.q.parameters(), lr=config.learning_rate)
        self.replay: OrderedDict[tuple, _Transition] = OrderedDict()
        self.epsilon = config.epsilon_start
        self.updates = 0

    def act(self, state: Partial) -> str:
        if self.rng.random() < self.epsilon:
            return state.random_token(self.rng)
        with torch.no_grad():
            values = self.q(torch.from_numpy(self.encoder(state))).numpy()
        values[~self.encoder.mask(state)] = -np.inf
        return self.encoder.grammar.tokens[int(np.argmax(values))]

    def remember(self, states: list[Partial], actions: list[str], reward: float) -> None:
        """Store an episode's transitions; a (partial rule, token) seen before is replaced,
        so the buffer holds distinct experiences (oldest evicted first)."""
        index = self.encoder.grammar.index
        for step, (state, token) in enumerate(zip(states, actions, strict=True)):
            following = states[step + 1] if step + 1 < len(states) else state.then(token)
            done = step == len(actions) - 1
            key = (state.stock, state.price, token)
            self.replay.pop(key, None)
            self.replay[key] = _Transition(self.encoder(state), index[token],
                                           reward if done else 0.0, self.encoder(following),
                                           self.encoder.mask(following), done)
            while len(self.replay) > self.config.replay_capacity:
                self.replay.popitem(last=False)

    def state(self) -> dict:
        """Networks, optimizer, replay buffer (as tensors, in order), ε and random stream."""
        replay = list(self.replay.values())
        stacked = {
            "state": torch.from_numpy(np.stack([t.state for t in replay])),
            "action": torch.tensor([t.action for t in replay]),
            "reward": torch.tensor([t.reward for t in replay], dtype=torch.float64),
            "following": torch.from_numpy(np.stack([t.following for t in replay])),
            "mask": torch.from_numpy(np.stack([t.following_mask for t in replay])),
            "done": torch.tensor([t.done for t in replay])} if replay else {}
        return {"q": self.q.state_dict(), "target": self.target.state_dict(),
                "optimizer": self.optimizer.state_dict(), "epsilon": self.epsilon,
                "updates": self.updates, "rng": self.rng.bit_generator.state,
                "replay_keys": list(self.replay), "replay": stacked}

    def restore(self, state: dict) -> None:
        self.q.load_state_dict(state["q"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epsilon, self.updates = state["epsilon"], state["updates"]
        self.rng.bit_generator.state = state["rng"]
        r = state["replay"]
        self.replay = OrderedDict(
            (key, _Transition(r["state"][i].numpy(), int(r["action"][i]), float(r["reward"][i]),
                              r["following"][i].numpy(), r["mask"][i].numpy(),
                              bool(r["done"][i])))
            for i, key in enumerate(state["replay_keys"]))

    def learn(self) -> None:
        c = self.config
        if len(self.replay) < c.batch_size:
            return
        pool = list(self.replay.values())
        for _ in range(c.updates_per_episode):
            batch = [pool[i] for i in self.rng.choice(len(pool), c.batch_size, replace=False)]
            self._step(batch)
        self.epsilon = max(c.epsilon_min, self.epsilon * c.epsilon_decay)

    def _step(self, batch: list[_Transition]) -> None:
        c = self.config
        states = torch.from_numpy(np.stack([t.state for t in batch]))
        actions = torch.tensor([t.action for t in batch])
        rewards = torch.tensor([t.reward for t in batch], dtype=torch.float32)
        done = torch.tensor([t.done for t in batch], dtype=torch.float32)
        with torch.no_grad():
            following = self.target(torch.from_numpy(np.stack([t.following for t in batch])))
            mask = torch.from_numpy(np.stack([t.following_mask for t in batch]))
            best_next = following.masked_fill(~mask, -1e9).max(dim=1).values
            target = rewards + c.gamma * (1.0 - done) * best_next
        predicted = self.q(states).gather(1, actions[:, None]).squeeze(1)
        loss = nn.functional.smooth_l1_loss(predicted, target)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.updates += 1
        if self.updates % c.target_every == 0:
            with torch.no_grad():
                for mine, theirs in zip(self.target.parameters(), self.q.parameters(),
                                        strict=True):
                    mine.mul_(1.0 - c.target_tau).add_(theirs, alpha=c.target_tau)


def reinforce(cand: Candidates, config: RLConfig = RLConfig(), start: str = EXPERT_RULE,
              progress: Callable[[str], None] = lambda _: None,
              checkpoint: Checkpoint | None = None) -> SearchResult:
    """Train the agent until `config.budget` distinct rules were scored (or the episode
    cap); one iteration per newly scored rule, each carrying the best rule so far.
    `checkpoint`: resume the run saved there under the same settings, save as it goes."""
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            return _train(cand, config, start, progress,
                          checkpoint.within("rl", config, start) if checkpoint else None)
    finally:
        torch.set_num_threads(threads)


def _train(cand: Candidates, config: RLConfig, start: str, progress: Callable[[str], None],
           checkpoint: Checkpoint | None) -> SearchResult:
    started = time.perf_counter()
    grammar = Grammar(tuple(RULE_FEATURES), config.max_stock_tokens, config.max_price_tokens)
    scorer = fitting_scorer(cand, config.fitness, config.fit_evaluations)
    agent = _Agent(_Encoder(grammar), config, np.random.default_rng(config.seed))
    saved = checkpoint.load_tensors() if checkpoint else None
    if saved:
        db = ProgramDatabase.restored(saved["database"], cand, config.fitness, scorer,
                                      config.budget, seed=config.seed)
        result = resumed_result(saved, cand, config.fitness)
        agent.restore(saved["agent"])
        done, first = saved["finished"], saved["episode"] + 1
        progress(f"resumed after episode {saved['episode']}, {db.spent} rules scored")
    else:
        db = ProgramDatabase(scorer, config.budget, seed=config.seed)
        db.add(parse_program(start, RULE_FEATURES), author="expert")
        result = started_result(db.best(), time.perf_counter() - started)
        done, first = False, 1
    expert = next(iter(db.entries.values()))

    def save(episode: int, finished: bool) -> None:
        if checkpoint:
            checkpoint.save_tensors({**result_state(result), "database": db.state(),
                                     "agent": agent.state(), "episode": episode,
                                     "finished": finished})

    last = config.episodes_per_rule * config.budget
    for episode in range(first, 0 if done else last + 1):
        began = time.perf_counter()
        states, actions = [Partial(grammar)], []
        while not states[-1].done:
            actions.append(agent.act(states[-1]))
            states.append(states[-1].then(actions[-1]))
        program = states[-1].program()
        new = not db.knows(program)
        entry = db.add(program, author="rl")
        if entry is None:  # a new rule and no budget left
            break
        agent.remember(states[:-1], actions, relative_reward(entry.fitness, expert.fitness))
        agent.learn()
        if new:
            note = (f"episode {episode}, ε {agent.epsilon:.2f}: {entry.summary()}, "
                    f"{db.spent}/{db.budget} rules scored")
            step = record(result, entry, "kept", note, time.perf_counter() - began)
            save(episode, False)
            progress(f"rule {db.spent}: {step.status}, best Φ {step.fitness:.2f}")
    if not done:
        save(last, True)  # a rerun returns at once
    return result
