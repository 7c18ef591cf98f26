"""Rule searchers: LLM proposals in the rule language, scored and refined (roadmap)."""
