"""Synthetic retail world with hidden truth (see `deeprule.synth.world`)."""

from deeprule.synth.spec import PRESETS, WorldSpec, resolve_spec
from deeprule.synth.world import World, build_world

__all__ = ["PRESETS", "World", "WorldSpec", "build_world", "resolve_spec"]
