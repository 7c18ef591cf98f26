"""Scorers: the DNN sales-volume model and the monotone uplift model (docs/scorers.md)."""
