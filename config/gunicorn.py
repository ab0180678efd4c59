"""gunicorn's settings in production: `gunicorn -c config/gunicorn.py config.wsgi`.

Everything here can be set from the environment (README, "Production on one machine").
Sync workers: a request holds its worker while it waits for PostgreSQL, so run about two per
core plus one; slow clients belong behind a reverse proxy that buffers them.
"""

import multiprocessing
import os
from pathlib import Path

import environ

# The same .env the app reads (settings read it too late for gunicorn's own settings).
environ.Env.read_env(os.environ.get("TF_ENV_FILE", str(Path(__file__).resolve().parents[1] / ".env")))

# All addresses: inside a container, or behind a proxy on the same machine (then BIND=127.0.0.1:8000).
bind = os.environ.get("BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1))
# A request that takes longer is killed (its worker restarted), so one runaway cannot hold a worker.
timeout = int(os.environ.get("WEB_TIMEOUT", "30"))
graceful_timeout = 30
keepalive = 5
# Restart each worker now and then: memory a worker grew (a big export) goes back.
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
accesslog = os.environ.get("WEB_ACCESS_LOG", "-")
errorlog = "-"
# Proxies whose X-Forwarded-* headers gunicorn believes (Django reads SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# Heartbeat files in memory, not on a disk that may stall (gunicorn's own advice).
_SHARED_MEMORY = "/dev/shm"  # noqa: S108 — gunicorn's worker heartbeats, not user data
worker_tmp_dir = _SHARED_MEMORY if os.path.isdir(_SHARED_MEMORY) else None
