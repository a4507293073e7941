"""The one error type the node's control-API methods raise for the caller to see."""

from __future__ import annotations

from ..api import ControlError

__all__ = ["ApiError"]


class ApiError(ControlError):
    """A refusal the caller should see: a stable ``code`` (``p2pnet.api.ERROR_CODES``) and a sentence."""
