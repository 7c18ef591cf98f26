"""The paper's data-quality loop: rule base, rule retrieval, LLM-weighted fusion, trend
calibration, LLM posterior cleaning and a with/without report (see docs/quality.md).

Module map: context (per-sample facts) -> rules (the rule base, g(x)) -> retrieval
(embedding argmax) -> weights (LLM α) -> fusion (eqs. 15-17) -> cleaning (eqs. 19-21)
-> augment / refit / report; loop wires fusion and calibration for the assets.
"""
