"""Safe parsing of activation strings (placeholder; the whitelisted grammar lives here)."""
from __future__ import annotations

__all__ = ["parse_expression"]


def parse_expression(text: str, *, allow_variable: bool = True):
    raise NotImplementedError
