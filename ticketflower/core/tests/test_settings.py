"""Settings refuse an unsafe production start and pass Django's deployment checks."""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[3]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-real-production-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "tickets.example.com",
    "DATABASE_URL": "postgres://ticketflower:secret@db.example.com:5432/ticketflower",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
    "SECURE_HSTS_PRELOAD": "true",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # A clean environment (no .env in the test's way: DATA_DIR points nowhere it could read one).
    base = {key: value for key, value in os.environ.items() if key in {"PATH", "HOME", "LANG"}}
    return subprocess.run(  # noqa: S603
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        env={**base, "DJANGO_SETTINGS_MODULE": "config.settings", "TF_ENV_FILE": "/nonexistent", **env},
        capture_output=True,
        text=True,
        cwd=BASE_DIR,
        timeout=60,
        check=False,
    )


def test_check_deploy_is_clean_with_production_variables() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key() -> None:
    result = manage("check", **{**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "set SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts() -> None:
    result = manage("check", **{**PRODUCTION, "ALLOWED_HOSTS": ""})
    assert result.returncode != 0
    assert "set ALLOWED_HOSTS" in result.stderr


def test_only_postgresql_is_accepted() -> None:
    result = manage("check", **{**PRODUCTION, "DATABASE_URL": "sqlite:///db.sqlite3"})
    assert result.returncode != 0
    assert "DATABASE_URL must point at PostgreSQL" in result.stderr


def setting(expression: str, **env: str) -> str:
    """What `expression` (over `settings`) prints in a process started with `env`."""
    code = f"from django.conf import settings; print({expression})"
    result = manage("shell", "--no-imports", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_the_proxy_https_header_is_trusted_only_when_configured() -> None:
    assert setting("settings.SECURE_PROXY_SSL_HEADER", **PRODUCTION) == "None"
    configured = setting(
        "settings.SECURE_PROXY_SSL_HEADER", **PRODUCTION, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto,https"
    )
    assert configured == "('HTTP_X_FORWARDED_PROTO', 'https')"


def test_a_malformed_proxy_https_header_refuses_to_start() -> None:
    result = manage("check", **PRODUCTION, SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto")
    assert result.returncode != 0
    assert "SECURE_PROXY_SSL_HEADER is a header and a value" in result.stderr


def test_check_deploy_is_clean_behind_a_proxy() -> None:
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        **PRODUCTION,
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto,https",
    )
    assert result.returncode == 0, result.stderr


def test_the_layout_sandbox_origin_joins_the_frame_sources() -> None:
    frame_src = "' '.join(settings.SECURE_CSP['frame-src'])"
    assert setting(frame_src, **PRODUCTION) == "'self'"
    sandbox = setting(frame_src, **PRODUCTION, LAYOUT_SANDBOX_ORIGIN="https://layouts.example.net")
    assert sandbox == "'self' https://layouts.example.net"


def test_a_layout_sandbox_origin_that_is_not_an_origin_refuses_to_start() -> None:
    result = manage("check", **PRODUCTION, LAYOUT_SANDBOX_ORIGIN="https://x.example 'unsafe-inline'")
    assert result.returncode != 0
    assert "LAYOUT_SANDBOX_ORIGIN is an origin" in result.stderr


def test_rate_limits_are_read_as_count_per_window() -> None:
    limits = "settings.RATE_LIMITS['login_failures_per_network']"
    assert setting(limits, **PRODUCTION, RATE_LIMIT_LOGIN_FAILURES="5/2m") == "{'limit': 5, 'window': 120}"


def test_a_malformed_rate_limit_refuses_to_start() -> None:
    result = manage("check", **PRODUCTION, RATE_LIMIT_SIGNUPS="ten per hour")
    assert result.returncode != 0
    assert "RATE_LIMIT_SIGNUPS is <count>/<window>" in result.stderr
