"""The HTTP service: ``create_app(settings)``, its settings, micro-batching and the playground page.

Needs the ``serve`` extra (``pip install "refusal-detector[serve]"``). The names below import
FastAPI only when first used, so ``refusal-detector --help`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from refusal_detector.serve.app import create_app
    from refusal_detector.serve.settings import ServeSettings, load_settings

__all__ = ["ServeSettings", "create_app", "load_settings"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from refusal_detector.serve.app import create_app

        return create_app
    if name in ("ServeSettings", "load_settings"):
        from refusal_detector.serve import settings

        return getattr(settings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
