"""Scoring plans against the simulator's truth (evaluation only: learners never import it)."""
