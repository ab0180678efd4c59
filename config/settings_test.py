"""Settings for the test suite and CI checks: production-like (DEBUG off), but plain HTTP."""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-only-" + "k" * 60)
os.environ.setdefault("ALLOWED_HOSTS", "localhost,127.0.0.1,testserver")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("SESSION_COOKIE_SECURE", "false")
os.environ.setdefault("CSRF_COOKIE_SECURE", "false")
os.environ.setdefault("SECURE_HSTS_SECONDS", "0")
os.environ.setdefault("EMBEDDED_DB_NAME", "ticketflower_test_main")
# Live-server threads must not keep connections open, or the test database cannot be dropped.
os.environ.setdefault("CONN_MAX_AGE", "0")
# HTTP actions call test servers on 127.0.0.1; the guard's tests turn this off where they need to.
os.environ.setdefault("ACTIONS_ALLOW_LOOPBACK", "true")

from config.settings import *  # noqa: F403

# Hashing cost is not what the tests are about.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
