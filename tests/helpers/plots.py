"""Plots travel as markdown with an embedded PNG: check that one is really there."""

import base64
import re

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def embedded_png(markdown: object) -> bytes:
    """The PNG inside a plot metadata value (MetadataValue.md or its text); fails if none."""
    text = getattr(markdown, "value", None) or getattr(markdown, "md_str", None) or str(markdown)
    found = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)\)", text)
    assert found, f"no embedded PNG in {text[:120]!r}"
    png = base64.b64decode(found.group(1))
    assert png.startswith(PNG_SIGNATURE) and len(png) > 1_000
    return png
