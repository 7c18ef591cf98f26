from pathlib import Path

from deeprule.io.contract_doc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-contract.md"


def test_data_contract_doc_matches_schema() -> None:
    """Regenerate with `python -m deeprule.io.contract_doc > docs/data-contract.md`."""
    assert DOC.read_text() == render()
