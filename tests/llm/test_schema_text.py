"""The schema stated in prompts for servers that cannot constrain: short, and complete."""

import json

from deeprule.llm.schema_text import schema_text
from deeprule.priors.schemas import MAX_ITEMS, extraction_schemas
from deeprule.priors.vocabulary import Vocabulary
from deeprule.rules.schema import rule_schema

VOCAB = Vocabulary(categories=("Hair Care", "Laundry"), brands=("Aurelle", "Calyxa", "Dorian"))


def test_every_key_value_bound_and_cap_in_a_fraction_of_the_json_schema() -> None:
    for schema in extraction_schemas(VOCAB).values():
        text = schema_text(schema)
        assert len(text) < len(json.dumps(schema.model_json_schema(), indent=2)) / 2.5
        for key in schema.model_fields:
            assert json.dumps(key) in text
    profile = schema_text(extraction_schemas(VOCAB)["profile"])
    assert all(json.dumps(b) in profile for b in VOCAB.brands)
    assert "at most 3 items" in profile  # the cap a model that lists 10 brands must see
    events = schema_text(extraction_schemas(VOCAB)["reward_penalty"])
    assert f"at most {MAX_ITEMS} items" in events and "integer in [0, 1000000]" in events


def test_a_recursive_rule_schema_states_each_definition_once() -> None:
    text = schema_text(rule_schema(("cost", "list_price"), 2))
    lines = text.splitlines()
    assert lines[0].startswith('{"stock": Condition3')
    names = [line.split(" = ")[0] for line in lines[1:]]
    assert len(names) == len(set(names)) and "Operation2" in names
    assert 'Number = {"kind": "number", "value": number in [-1000, 1000]}' in lines
