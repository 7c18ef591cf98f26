"""LLM-extracted customer priors: schemas, prompts, incremental extraction, aggregation."""
