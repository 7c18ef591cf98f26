"""Rules as a scripted LLM writes them (the proposal schema's JSON)."""

import json


def markup_rule(markup: float) -> str:
    price = {"kind": "op", "op": "*", "left": {"kind": "feature", "name": "cost"},
             "right": {"kind": "number", "value": markup}}
    stock = {"left": {"kind": "feature", "name": "hist_units"}, "cmp": ">",
             "right": {"kind": "number", "value": 0.0}}
    return json.dumps({"stock": stock, "price": price})
