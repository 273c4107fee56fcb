"""Typed application keys: what the app holds, and who owns it (see ``app.py``)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from indexer.api.config import ApiConfig
from indexer.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
CONFIG = web.AppKey("api_config", ApiConfig)
ENGINE = web.AppKey("engine", Engine)  # created and disposed by the engine cleanup context
EXECUTOR = web.AppKey("executor", ThreadPoolExecutor)  # store queries run here, off the event loop
REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)
