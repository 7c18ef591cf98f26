"""Every method scored against the simulator's truth (evaluation only).

`extraction` (document facts), `scorers` (the demand and uplift models on held-out
months), `plans` (rule plans and the oracle under the true demand), `experiment`
(train and compare the scorers on a world, no Dagster). With the simulator
itself, the only code that may reach the truth (tests/test_layers.py).
"""
