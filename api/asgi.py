"""The ASGI application object for uvicorn (``api.asgi:app``), configured from the environment."""

from __future__ import annotations

from api.app import create_app
from api.logging import configure_logging
from api.settings import Settings

settings = Settings()
# Each worker process imports this module on its own: its logs need the same safeguards.
configure_logging(settings.log_level, json=settings.is_production)
app = create_app(settings)
