"""The local analyst dashboard (``newsetl dashboard``): JSON API + static page over ClickHouse views.

- :func:`serve_dashboard` — serve until interrupted (blocking), used by the CLI.
- :func:`make_app` — the aiohttp application; :func:`start_dashboard` — run it in a background
  thread on a free port (tests).
"""

from streams.dashboard.server import DashboardServer, make_app, serve_dashboard, start_dashboard

__all__ = ["DashboardServer", "make_app", "serve_dashboard", "start_dashboard"]
