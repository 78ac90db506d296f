"""Settings for the team Imagen 4 studio: one file, every knob an environment variable.

With nothing set, the app runs on the embedded default: SQLite in WAL mode, a Celery broker kept
in files under ``var/``, the local Rivya simulator, and media on disk. Production sets
``DATABASE_URL``, ``CELERY_BROKER_URL``, ``RIVYA_BASE_URL``, ``RIVYA_API_KEY``, ``SECRET_KEY``,
``ALLOWED_HOSTS`` and ``DEBUG=false``.
"""

import ipaddress
import os
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import dj_database_url
import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured

from imagen_site import broker
from imagen_site.debug_guard import why_not_debug

django_stubs_ext.monkeypatch()  # lets admin classes say ModelAdmin[Generation] at run time

BASE_DIR = Path(__file__).resolve().parent.parent
T = TypeVar("T")


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def _env_parsed(name: str, default: T, parse: Callable[[str], T], kind: str) -> T:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return parse(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {kind}, not {value!r}") from None


def env_int(name: str, default: int) -> int:
    return _env_parsed(name, default, int, "a whole number")


def env_float(name: str, default: float) -> float:
    return _env_parsed(name, default, float, "a number")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def media_origins(bucket: str, endpoint: str | None, region: str | None) -> str:
    """Where the bucket's signed URLs point (comma-separated), path-style or virtual-hosted."""
    if not bucket:
        return ""
    if endpoint:
        parts = urlsplit(endpoint)
        if not parts.scheme or not parts.netloc:
            raise ImproperlyConfigured(f"AWS_S3_ENDPOINT_URL must be a URL, not {endpoint!r}")
        return f"{parts.scheme}://{parts.netloc},{parts.scheme}://{bucket}.{parts.netloc}"
    regional = f",https://{bucket}.s3.{region}.amazonaws.com" if region else ""
    return f"https://{bucket}.s3.amazonaws.com{regional}"


# Where the embedded default keeps its files. Settings do no I/O: script/bootstrap, runstack and
# the test fixtures create the folders (imagen_site.broker.make_folders for the broker's).
DATA_DIR = Path(env_str("IMAGEN_DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", True)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false")
    SECRET_KEY = "django-insecure-development-key-only-for-the-embedded-default"  # noqa: S105
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
# How many proxies in front of gunicorn append to X-Forwarded-For (0: browsers reach gunicorn
# directly). It says where a client's address is read (sign-in lockout) and whether the proxy's
# X-Forwarded-Proto is believed; with 0 both headers are the browser's own words, so neither is.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured(f"TRUSTED_PROXY_COUNT must be 0 or more, not {TRUSTED_PROXY_COUNT}")
if DEBUG and (_served_to_others := why_not_debug(ALLOWED_HOSTS, TRUSTED_PROXY_COUNT)):
    # Every process (gunicorn, workers, beat, manage.py) loads these settings: none starts so.
    raise ImproperlyConfigured(
        f"DEBUG is on, but {_served_to_others}. DEBUG's error page shows settings and "
        "tracebacks to whoever gets an error: set DEBUG=false (and SECRET_KEY) to serve others."
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "axes",
    "csp",
    "generations",
]

MIDDLEWARE = [
    "imagen_site.logs.request_id_middleware",  # first: every later line carries the request id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The cookie's language, else Accept-Language; after sessions, before CommonMiddleware.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A signed-in member's saved language and time zone win over the browser's (needs the user).
    "generations.preferences.MemberPreferenceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks, so it sees the outcome of every authentication attempt.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, loading the member's preferences in the same query.
    "generations.preferences.MemberBackend",
    # Still listed so that sessions signed in before MemberBackend existed stay valid (a session
    # names the backend that signed it in); they read preferences with one more query.
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "imagen_site.urls"
WSGI_APPLICATION = "imagen_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",  # LANGUAGE_CODE, LANGUAGES
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "generations.health.context",
            ],
        },
    },
]

# The database: SQLite in WAL mode by default, anything dj-database-url reads in production.
DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("SQLITE_PATH", str(DATA_DIR / "db.sqlite3")),
            # A file, not memory, so that worker processes started by tests share it.
            "TEST": {"NAME": env_str("SQLITE_TEST_PATH", str(DATA_DIR / "test-db.sqlite3"))},
            "OPTIONS": {
                # WAL lets the web server read while a worker writes; IMMEDIATE makes a writing
                # transaction take the lock at BEGIN, so two writers queue instead of deadlocking.
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
                ),
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "generations:home"
LOGOUT_REDIRECT_URL = "login"

# Pages in English or Thai: a member's saved choice, else the language cookie, else the browser's
# Accept-Language (generations/preferences.py). Each language is named in itself in the switch.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("th", "ไทย")]
# Our words (locale/, written by makemessages), then Thai for the words Django and django-axes
# show and leave English (vendor_locale/, written by hand; makemessages never touches it).
LOCALE_PATHS = [BASE_DIR / "locale", BASE_DIR / "vendor_locale"]
# The studio's own named date formats (MONTH_DAY_TIME_FORMAT …), in each language's order.
FORMAT_MODULE_PATH = ["imagen_site.formats"]
USE_I18N = True
# Times are stored in UTC and shown in the member's saved zone, else the one their browser says,
# else this one, which is also the team's: the month a budget counts in is its month.
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
# Images: the local folder by default, a private S3-compatible bucket when one is named (every
# node then sees every image). Either way a page links /media/<name>, which only a signed-in
# member gets, and only while the generation that owns the file is not deleted (imagen_site/
# storage.py): from the folder, or as a redirect to a signed URL that soon stops working.
AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME", "")
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL", "") or None  # None: Amazon S3 itself
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME", "") or None
# None leaves boto3 its own ways to find credentials (an instance role, ~/.aws).
AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID", "") or None
AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY", "") or None
AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 600)
if not 0 < AWS_QUERYSTRING_EXPIRE <= 900:
    raise ImproperlyConfigured(
        "AWS_QUERYSTRING_EXPIRE must be seconds from 1 to 900 (a leaked image link must stop "
        f"working within fifteen minutes), not {AWS_QUERYSTRING_EXPIRE}"
    )
AWS_QUERYSTRING_AUTH = True  # every link to the bucket is signed: it is never public
AWS_DEFAULT_ACL = None  # objects get the bucket's own (private) policy
AWS_S3_SIGNATURE_VERSION = "s3v4"  # signed URLs carry their expiry in what is signed
AWS_S3_FILE_OVERWRITE = True  # a rerun stores a generation's image under the same name
MEDIA_STORAGE = (
    "imagen_site.storage_s3.PrivateS3Storage"
    if AWS_STORAGE_BUCKET_NAME
    else "imagen_site.storage.LocalMediaStorage"
)
STORAGES = {
    "default": {"BACKEND": MEDIA_STORAGE},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Caches are each process's own memory: nothing in them is shared state. "default" keeps short
# answers (the model list, /healthz); "cards" keeps the drawn pictures and words of finished
# requests (templates/generations/home.html), keyed by the request's version, so a change is
# never served stale and no node needs to tell another. A few MB at most per web process.
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "default"},
    "cards": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "cards",
        "TIMEOUT": 3600,
        "OPTIONS": {"MAX_ENTRIES": env_int("CARD_CACHE_ENTRIES", 5000)},
    },
}
# Where a signed image URL points, for the page's Content-Security-Policy (img-src): a thumbnail
# is fetched from /media/ and follows the redirect there.
MEDIA_ORIGINS = env_list(
    "MEDIA_ORIGINS", media_origins(AWS_STORAGE_BUCKET_NAME, AWS_S3_ENDPOINT_URL, AWS_S3_REGION_NAME)
)

# Security headers; production gets the strict set, development keeps plain http working.
# X-Forwarded-Proto is believed only when a proxy sets it: without one, any browser could send
# "https" and pass for a secure request.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if TRUSTED_PROXY_COUNT else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
# A load balancer asks gunicorn itself over plain http; the answer holds nothing secret.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", *MEDIA_ORIGINS],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    },
}

# django-axes: lock a username from one address out for a while after repeated failures.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_float("AXES_COOLOFF_HOURS", 0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_RESET_ON_SUCCESS = True
# The client's address as TRUSTED_PROXY_COUNT says (behind a proxy, REMOTE_ADDR is the proxy's).
AXES_CLIENT_IP_CALLABLE = "imagen_site.security.client_address"
# A lockout lasts the cool-off from when it began: guesses during it neither count nor extend it.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Guessing one username from many addresses never trips the per-address lockout; it is slowed
# instead (generations/signin.py): past this many failures within the cool-off, each attempt
# waits a delay that doubles per failure, up to the maximum. Where the member signed in before,
# never.
SIGNIN_SLOWDOWN_AFTER = env_int("SIGNIN_SLOWDOWN_AFTER", 2 * AXES_FAILURE_LIMIT)
SIGNIN_SLOWDOWN_MAX_SECONDS = env_int("SIGNIN_SLOWDOWN_MAX_SECONDS", 60)
# The debug page and error mails mask passwords inside URLs (DATABASE_URL, CELERY_BROKER_URL).
DEFAULT_EXCEPTION_REPORTER_FILTER = "imagen_site.security.CredentialsFilter"

# Celery: the database remembers the work; the broker is only a doorbell (see DESIGN.md).
# The embedded broker is atomicfs:// (imagen_site/broker.py): kombu's filesystem transport, but a
# message is renamed into place once written. Plain filesystem:// is refused: its reader can take
# a half-written message, which kills the worker (fault 26).
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", broker.URL)
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL=filesystem:// can hand a worker a half-written message. Leave "
        f"CELERY_BROKER_URL unset (or set it to {broker.URL}) for the embedded broker."
    )
if CELERY_BROKER_URL.startswith(broker.URL):
    CELERY_BROKER_TRANSPORT_OPTIONS = broker.folder_options(DATA_DIR / "broker")
else:
    # Longer than any countdown we schedule and any task's time limit (Redis re-delivers after it).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": 3600,
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
    }
CELERY_BROKER_CONNECTION_TIMEOUT = 3
# A member's request must not hang on a dead broker: a couple of quick tries, then the
# reconciler takes over (the row is already saved).
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 60
CELERY_TASK_TIME_LIMIT = 90
# A task that hits database trouble is retried with jittered backoff, this many times at most.
TASK_MAX_RETRIES = env_int("TASK_MAX_RETRIES", 5)
TASK_RETRY_BACKOFF_MAX = env_int("TASK_RETRY_BACKOFF_MAX", 60)
CELERY_TASK_IGNORE_RESULT = True
# Celery's Django fixup closes every database connection before and after every task unless this
# is set: on PostgreSQL a new server process for every step of every job (a quarter of this
# 2-core machine at 15 jobs/s, docs/benchmarks.md, issue 14). Set so it never does; a task's
# connections follow DATABASES' CONN_MAX_AGE and health checks as a request's do
# (imagen_site/celery.py).
CELERY_DB_REUSE_MAX = 2**62
# The queue tasks are sent to and workers read; tests and soak runs give each run its own.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "celery")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Beat asks Rivya for the model list and the balance this often; pages show only what it kept.
RIVYA_REFRESH_EVERY_SECONDS = env_float("RIVYA_REFRESH_EVERY_SECONDS", 60.0)
# The studio says Rivya is down when no call has succeeded for this long and work is waiting.
RIVYA_DOWN_AFTER_SECONDS = env_float("RIVYA_DOWN_AFTER_SECONDS", 60.0)
for _name, _seconds in (
    ("RIVYA_REFRESH_EVERY_SECONDS", RIVYA_REFRESH_EVERY_SECONDS),
    ("RIVYA_DOWN_AFTER_SECONDS", RIVYA_DOWN_AFTER_SECONDS),
):
    if not 0 < _seconds < float("inf"):  # NaN fails this too
        raise ImproperlyConfigured(f"{_name} must be a number of seconds above 0, not {_seconds}")
# A refresh still queued when the next one is due is dropped (a hanging Rivya must not pile up).
_REFRESH = {
    "schedule": RIVYA_REFRESH_EVERY_SECONDS,
    "options": {"expires": RIVYA_REFRESH_EVERY_SECONDS},
}
CELERY_BEAT_SCHEDULE = {
    "reconcile": {
        "task": "generations.tasks.reconcile",
        "schedule": env_float("RECONCILE_EVERY_SECONDS", 15.0),
    },
    # Webhook ids older than a replay could be (generations/webhooks.py): once an hour.
    "forget-old-webhook-events": {
        "task": "generations.tasks.forget_old_webhook_events",
        "schedule": 3600.0,
    },
    "refresh-rivya-models": {"task": "generations.tasks.refresh_models", **_REFRESH},
    "refresh-rivya-balance": {"task": "generations.tasks.refresh_balance", **_REFRESH},
    # Alerts to the admins (generations/alerts.py): sends what is due and resends what failed.
    "send-alerts": {
        "task": "generations.tasks.send_alerts",
        "schedule": env_float("ALERTS_EVERY_SECONDS", 60.0),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")

# The Rivya API. The simulator listens on RIVYA_BASE_URL by default; script/server starts it.
RIVYA_BASE_URL = env_str("RIVYA_BASE_URL", "http://127.0.0.1:8765").rstrip("/")
RIVYA_API_KEY = env_str("RIVYA_API_KEY", "rvya_sk_local_simulator")
RIVYA_CONNECT_TIMEOUT = env_float("RIVYA_CONNECT_TIMEOUT", 5.0)
RIVYA_READ_TIMEOUT = env_float("RIVYA_READ_TIMEOUT", 20.0)
# The most one API call may take from start to its last byte, whatever the steps took.
RIVYA_TOTAL_TIMEOUT = env_float("RIVYA_TOTAL_TIMEOUT", 30.0)
RIVYA_WEBHOOK_SECRET = env_str("RIVYA_WEBHOOK_SECRET", "")

# Lifecycle budgets.
GENERATION_TIME_BUDGET_SECONDS = env_int("GENERATION_TIME_BUDGET_SECONDS", 30 * 60)
SUBMIT_MAX_ATTEMPTS = env_int("SUBMIT_MAX_ATTEMPTS", 6)
POLL_MAX_ERRORS = env_int("POLL_MAX_ERRORS", 8)
# A member's credit budget per calendar month; 0 means no budget (the team balance still applies).
DEFAULT_MONTHLY_BUDGET = env_int("DEFAULT_MONTHLY_BUDGET", 0)

# Alerts by email to the admins (is_staff users with an email; generations/alerts.py): a member
# past 80 % and 100 % of their budget, the team past 80 % and 100 % of its cap, and Rivya's
# balance under LOW_BALANCE_CREDITS (0: no balance alert). An alert claimed but not sent (the
# mail server refused it, the worker died) is sent again after ALERT_RESEND_AFTER_SECONDS.
LOW_BALANCE_CREDITS = env_int("LOW_BALANCE_CREDITS", 0)
ALERT_RESEND_AFTER_SECONDS = env_int("ALERT_RESEND_AFTER_SECONDS", 300)
for _name, _value in (
    ("LOW_BALANCE_CREDITS", LOW_BALANCE_CREDITS),
    ("ALERT_RESEND_AFTER_SECONDS", ALERT_RESEND_AFTER_SECONDS),
):
    if _value < 0:
        raise ImproperlyConfigured(f"{_name} must be 0 or more, not {_value}")
# Email: printed by the console backend on the embedded default; with EMAIL_HOST set, sent by
# SMTP. EMAIL_BACKEND overrides either (the tests use the file backend, EMAIL_FILE_PATH).
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 587)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)  # a mail server that hangs must not hold a worker
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))
EMAIL_SUBJECT_PREFIX = env_str("EMAIL_SUBJECT_PREFIX", "[Imagen Studio] ")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "studio@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Downloading results: untrusted URLs get a byte cap, a deadline and a pixel cap.
RESULT_MAX_BYTES = env_int("RESULT_MAX_BYTES", 20 * 1024 * 1024)
# All of one result's images together (at most four are fetched, each up to RESULT_MAX_BYTES).
RESULT_MAX_TOTAL_BYTES = env_int("RESULT_MAX_TOTAL_BYTES", 4 * RESULT_MAX_BYTES)
RESULT_DEADLINE_SECONDS = env_float("RESULT_DEADLINE_SECONDS", 30.0)
RESULT_MAX_PIXELS = env_int("RESULT_MAX_PIXELS", 16_777_216)
THUMBNAIL_SIZE = env_int("THUMBNAIL_SIZE", 512)

# Logs: plain lines, or with LOG_FORMAT=json one JSON object per line (imagen_site/logs.py), each
# with the request id (or the Celery task's id) and the generation it is about.
LOG_FORMAT = env_str("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be plain or json, not {LOG_FORMAT!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "imagen_site.logs.ContextFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "imagen_site.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
# A worker keeps these handlers for JSON lines; plain lines stay in Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT != "json"

# Operators: GET /healthz for anyone (no secrets in it); /metrics (Prometheus) only with
# "Authorization: Bearer <METRICS_TOKEN>" or from METRICS_ALLOWED_ADDRESSES (addresses or
# networks, as imagen_site.security.client_address reads the client's address).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
METRICS_ALLOWED_ADDRESSES = env_list("METRICS_ALLOWED_ADDRESSES", "127.0.0.1,::1")
for _network in METRICS_ALLOWED_ADDRESSES:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"METRICS_ALLOWED_ADDRESSES must list addresses or networks, not {_network!r}"
        ) from None
