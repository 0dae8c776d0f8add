"""Settings for the AI commerce platform.

Every value comes from the environment (django-environ). With nothing set you get the embedded
default: a SQLite file under var/, Celery tasks run eagerly in-process, a local-memory cache and
DEBUG on with a random temporary secret key. Production sets DJANGO_DEBUG=0 and then must set
DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS and a PostgreSQL DATABASE_URL or startup is refused.
Every variable is documented in .env.example.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

# https://docs.djangoproject.com/en/5.2/ref/settings/#debug
DEBUG = env.bool("DJANGO_DEBUG", default=True)

_secret = env.str("DJANGO_SECRET_KEY", default="")
if not _secret:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG=0.")
    # A fresh key per process start: sessions do not survive a restart, which is fine for a demo.
    _secret = secrets.token_urlsafe(50)
    logging.getLogger(__name__).warning("DJANGO_SECRET_KEY is not set: using a random temporary key.")
SECRET_KEY = _secret

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[] if not DEBUG else ["127.0.0.1", "localhost", "testserver"])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must be set when DJANGO_DEBUG=0.")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "ecommerce.apps.EcommerceConfig",
    "recommendations.apps.RecommendationsConfig",
    "support.apps.SupportConfig",
    "advertising.apps.AdvertisingConfig",
    "analytics.apps.AnalyticsConfig",
]

MIDDLEWARE = [
    # /healthz and /readyz answer before sessions, auth and throttles (ecommerce/health.py).
    "ecommerce.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy and Permissions-Policy on every response (settings under Security);
    # django-csp's middleware with the policy string built once (ecommerce/security_headers.py).
    "ecommerce.security_headers.CachedPolicyCSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Read replicas: opts dashboard/report/changelist GETs into replica reads, pins after writes
    # (ecommerce/db_routing.py). Wraps the session middleware so a session save counts as a write.
    "ecommerce.db_routing.ReplicaRoutingMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Django's LocaleMiddleware, its language decision remembered per (cookie, Accept-Language).
    "ecommerce.middleware.MemoLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Django's MessageMiddleware, its storage made on first use (ecommerce/middleware.py).
    "ecommerce.middleware.LazyMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ecommerce.middleware.PrivacyConsentMiddleware",
    # JSON clients get a JSON 500/503 with Retry-After, never the HTML error page.
    "ecommerce.health.JsonErrorMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout answer.
    "axes.middleware.AxesMiddleware",
]
# The JSON serving views (`serving_middleware = True`: recommendation lists, product neighbours,
# ad serving) answer GET and HEAD through MIDDLEWARE minus these, which do nothing for such a
# request; everything else, including any middleware added later, runs for them too
# (ecommerce/handlers.py; tests/ecommerce/test_serving_chain.py holds the answers identical).
SERVING_MIDDLEWARE_SKIP = [
    "ecommerce.health.HealthCheckMiddleware",  # answers /healthz and /readyz only
    "whitenoise.middleware.WhiteNoiseMiddleware",  # answers static paths only
    "django.middleware.csrf.CsrfViewMiddleware",  # nothing to check on GET/HEAD; no token handed out
    "ecommerce.middleware.LazyMessageMiddleware",  # JSON answers carry no messages
    "axes.middleware.AxesMiddleware",  # turns a locked-out login into its answer
]

ROOT_URLCONF = "ecommerce.urls"
WSGI_APPLICATION = "ecommerce.wsgi.application"
ASGI_APPLICATION = "ecommerce.asgi.application"

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
                "ecommerce.context_processors.storefront",
                # {{ CSP_NONCE }} for an inline <script nonce=...> (we keep scripts in static/js).
                "csp.context_processors.nonce",
            ],
        },
    }
]

# Database: https://docs.djangoproject.com/en/5.2/ref/settings/#databases
# DATABASE_URL unset -> SQLite file (the embedded default).
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Django's PostgreSQL backend, its health check made cheap (ecommerce/db_backends/postgresql/base.py).
POSTGRESQL_ENGINE = "ecommerce.db_backends.postgresql"


def _with_project_backend(database: dict) -> dict:
    if database["ENGINE"] == "django.db.backends.postgresql":
        database["ENGINE"] = POSTGRESQL_ENGINE
    return database


_with_project_backend(DATABASES["default"])
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the dev server read while a Celery-eager request writes; 20 s waits out short locks.
    # CONN_MAX_AGE applies here too: opening a connection runs these PRAGMAs and registers
    # Django's SQL functions, ~40% of a signed-in API request; runserver closes each thread's
    # connection when the thread ends.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }
if not DEBUG and DATABASES["default"]["ENGINE"] != POSTGRESQL_ENGINE:
    raise ImproperlyConfigured("Production (DJANGO_DEBUG=0) needs a PostgreSQL DATABASE_URL.")
# Read replica (PostgreSQL streaming standby): analytics dashboards, the ad report and admin
# changelists read from it; writes and read-after-write stay on the primary (ecommerce/db_routing.py).
_replica_url = env.str("DATABASE_REPLICA_URL", default="")
if _replica_url:
    DATABASES["replica"] = env.db_url_config(_replica_url)
    DATABASES["replica"]["CONN_MAX_AGE"] = DATABASES["default"]["CONN_MAX_AGE"]
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    _with_project_backend(DATABASES["replica"])
DATABASE_ROUTERS = ["ecommerce.db_routing.ReplicaRouter"]
# Seconds a browser reads the primary after it wrote: longer than the replica's usual lag.
DATABASE_REPLICA_PIN_SECONDS = env.int("DATABASE_REPLICA_PIN_SECONDS", default=10)
# URL names (fnmatch patterns) whose GET/HEAD requests read from the replica.
DATABASE_REPLICA_VIEWS = env.list(
    "DATABASE_REPLICA_VIEWS",
    default=["analytics:*", "admin:*_changelist", "admin:advertising_campaign_report*"],
)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "ecommerce.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "storefront:login"
LOGIN_REDIRECT_URL = "storefront:home"
LOGOUT_REDIRECT_URL = "storefront:home"

# Cache: CACHE_URL (or REDIS_URL) -> shared cache, needed for throttling across processes.
_cache_url = env.str("CACHE_URL", default="") or env.str("REDIS_URL", default="")
if _cache_url:
    CACHES = {"default": env.cache_url_config(_cache_url)}
    if CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache":
        # A dead Redis must cost milliseconds: short socket timeouts (refused and blackholed
        # alike), a circuit breaker, no redis-py retries; outages read as misses
        # (ecommerce/cache_backend.py, README "Operations").
        CACHES["default"]["BACKEND"] = "ecommerce.cache_backend.ResilientRedisCache"
        CACHES["default"].setdefault("OPTIONS", {}).update(
            {
                "SOCKET_CONNECT_TIMEOUT": env.float("CACHE_SOCKET_CONNECT_TIMEOUT", default=0.25),
                "SOCKET_TIMEOUT": env.float("CACHE_SOCKET_TIMEOUT", default=0.5),
                "CONNECTION_POOL_CLASS": "ecommerce.cache_backend.BreakerConnectionPool",
            }
        )
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SHARED_CACHE = bool(_cache_url)  # one cache for every process (Redis), not per-process memory
# Each process keeps copies of the session, user-row, page-shell, cart-summary and recommendation
# values its signed-in requests read, and Redis reports every change to them
# (ecommerce/cache_copies.py): such a request makes no round trip. Off: every read goes to Redis.
CACHE_LOCAL_COPIES = env.bool("CACHE_LOCAL_COPIES", default=True)

# Signed-in requests read the session and the user from the shared cache instead of the database
# (half the cost of a personal API request, docs/benchmarks/recommendations.md). Only with a
# shared cache: a per-process LocMem cache cannot tell other processes that a session ended or a
# user changed. ecommerce.sessions is Django's cached_db (sessions still written to the database,
# so a cache flush logs nobody out) whose signed-in keys carry the user id as a lookup hint.
SESSION_ENGINE = env.str(
    "DJANGO_SESSION_ENGINE",
    default="ecommerce.sessions" if SHARED_CACHE else "django.contrib.sessions.backends.db",
)
# The axes backend comes first: it refuses a locked-out login before the password is checked.
AUTHENTICATION_BACKENDS = [
    "ecommerce.login_protection.LoginAttemptBackend",
    "ecommerce.auth_backends.CachedModelBackend",
]
AUTH_USER_CACHE_SECONDS = env.int("AUTH_USER_CACHE_SECONDS", default=300 if SHARED_CACHE else 0)
if not DEBUG and not SHARED_CACHE and (AUTH_USER_CACHE_SECONDS or SESSION_ENGINE == "ecommerce.sessions"):
    raise ImproperlyConfigured(
        "AUTH_USER_CACHE_SECONDS and the ecommerce.sessions engine need a shared cache (CACHE_URL): "
        "a per-process cache would keep logged-out sessions and changed users alive in other processes."
    )

# Login brute-force protection (django-axes): AXES_FAILURE_LIMIT failures for one username OR from
# one address lock that username / address out for AXES_COOLOFF_MINUTES (right password or not);
# each failure during the lockout restarts it. Attempts live in the database, not the cache: the
# embedded default's LocMem cache is per process, so each gunicorn worker would count on its own
# and a restart would forget every lockout; the database also gives the admin its list of
# attempts and lockouts. `manage.py axes_reset` (or the admin) lifts a lockout early.
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_CALLABLE = "ecommerce.login_protection.lockout_response"
AXES_CLIENT_IP_CALLABLE = "ecommerce.login_protection.client_ip"
AXES_RESET_ON_SUCCESS = False
# Axes' own log lines carry the username and address; ecommerce.login_protection logs ids only.
AXES_VERBOSE = False
# Keep one row per failure (the admin's "Access failures") next to the per-user/address counters.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Every successful login is also a row (AccessLog); off keeps the table from growing per login.
AXES_DISABLE_ACCESS_LOG = env.bool("AXES_DISABLE_ACCESS_LOG", default=True)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# --- Uploaded media (product images) -------------------------------------------------------------
# Files people upload, kept apart from static files. Django serves them only when MEDIA_SERVE is on
# (default: DEBUG); in production the proxy (nginx `location /media/`) or an object store serves
# MEDIA_URL. Uploads are checked with Pillow (ecommerce/services/catalog.py) against these limits.
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_SERVE = env.bool("MEDIA_SERVE", default=DEBUG)
PRODUCT_IMAGE_MAX_BYTES = env.int("PRODUCT_IMAGE_MAX_BYTES", default=5 * 1024 * 1024)
PRODUCT_IMAGE_MAX_PIXELS = env.int("PRODUCT_IMAGE_MAX_PIXELS", default=25_000_000)  # 5000 x 5000
PRODUCT_THUMBNAIL_SIZE = env.int("PRODUCT_THUMBNAIL_SIZE", default=480)  # longest side, pixels
# --- end of uploaded media ----------------------------------------------------------------------

# Trained model artifacts (joblib files written only by this app).
ML_ARTIFACT_ROOT = Path(env.str("ML_ARTIFACT_ROOT", default=str(VAR_DIR / "models")))

# Shop settings
SHOP_NAME = env.str("SHOP_NAME", default="Gift Emporium")
SHOP_CURRENCY = env.str("SHOP_CURRENCY", default="GBP")
# Seconds an anonymous visitor's storefront page (home, category, search, product, empty cart) is
# served from the shared cache (ecommerce/storefront/pagecache.py); catalogue changes and retrains
# retire it sooner. 0 turns the page cache off.
STOREFRONT_PAGE_CACHE_SECONDS = env.int("STOREFRONT_PAGE_CACHE_SECONDS", default=300)
# Where the read-only shared data sets live (benchmarks, evaluation, the exactness tests).
SHARED_DATA_DIR = Path(env.str("SHARED_DATA_DIR", default=str(BASE_DIR.parent / "shared" / "data")))

# Django REST framework: closed by default, open endpoints say AllowAny explicitly.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": [
        "ecommerce.api.throttling.CounterScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "events": env.str("THROTTLE_EVENTS", default="600/min"),
        "events_token": env.str("THROTTLE_EVENTS_TOKEN", default="100000/min"),
        "catalog": env.str("THROTTLE_CATALOG", default="1200/min"),
        "orders": env.str("THROTTLE_ORDERS", default="300/min"),
        "recommendations": env.str("THROTTLE_RECOMMENDATIONS", default="3000/min"),
        "chat": env.str("THROTTLE_CHAT", default="30/min"),
        "agent": env.str("THROTTLE_AGENT", default="600/min"),
        "ads": env.str("THROTTLE_ADS", default="3000/min"),
        "analytics": env.str("THROTTLE_ANALYTICS", default="600/min"),
        "privacy": env.str("THROTTLE_PRIVACY", default="30/min"),
    },
    "NUM_PROXIES": env.int("DJANGO_NUM_PROXIES", default=0),
    "EXCEPTION_HANDLER": "ecommerce.api.exceptions.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSONParser with a nesting limit: a body nested thousands deep is a 400, not a RecursionError.
    "DEFAULT_PARSER_CLASSES": ["ecommerce.api.parsers.BoundedJSONParser"],
}
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=64)
SPECTACULAR_SETTINGS = {
    "TITLE": "AI Commerce Platform API",
    "DESCRIPTION": "Catalog, orders, events, recommendations, support, ads and analytics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from our own static files (drf-spectacular-sidecar): no CDN at run time.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `status` field with different choices: name each enum after its owner.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "ecommerce.models.Order.Status",
        "CampaignStatusEnum": "advertising.models.Campaign.Status",
        "ConversationStatusEnum": "support.models.Conversation.Status",
    },
}
# 1,000 events of ~1 KB each fit comfortably; anything larger is refused with 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DJANGO_DATA_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
EVENTS_MAX_BATCH = 1000
# Events dated further in the future than this are clock errors or forgeries.
EVENTS_MAX_FUTURE_SKEW = timedelta(minutes=10)
# PostgreSQL: event-log partitions kept ready beyond the current one (ecommerce/partitions.py;
# beat's ecommerce.ensure_event_partitions creates them daily).
EVENT_PARTITIONS_AHEAD = env.int("EVENT_PARTITIONS_AHEAD", default=3)
# The size of the partitions live ingestion writes into: month, day, or auto (days once a month at
# the last 7 days' rate would exceed EVENT_PARTITION_TARGET_ROWS). An insert slows as its partition
# grows (0.74x the empty rate at 1.8M rows), so busy shops get day partitions; finished months are
# compacted into one partition EVENT_PARTITION_COMPACT_AFTER_DAYS after they end (ecommerce/partitions.py).
EVENT_PARTITION_INTERVAL = env.str("EVENT_PARTITION_INTERVAL", default="auto")
if EVENT_PARTITION_INTERVAL not in ("auto", "month", "day"):
    raise ImproperlyConfigured(
        f"EVENT_PARTITION_INTERVAL must be auto, month or day, got {EVENT_PARTITION_INTERVAL!r}."
    )
EVENT_PARTITION_TARGET_ROWS = env.int("EVENT_PARTITION_TARGET_ROWS", default=250_000)
EVENT_PARTITION_COMPACT_AFTER_DAYS = env.int("EVENT_PARTITION_COMPACT_AFTER_DAYS", default=2)

# /readyz answers 503 only when one of these checks fails (database, cache, broker, models);
# a down cache or broker degrades the site but does not take it out of the load balancer.
READYZ_REQUIRED = env.list("READYZ_REQUIRED", default=["database"])

# Celery: https://docs.celeryq.dev/en/stable/userguide/configuration.html
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="") or None
# No broker -> run tasks in-process so the embedded default needs nothing else installed.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not CELERY_BROKER_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "recommendations.*": {"queue": "ml"},
    "support.retrain_*": {"queue": "ml"},
    "support.build_product_index": {"queue": "ml"},  # embeds every product title (4-15 s)
    "advertising.retrain_*": {"queue": "ml"},
    "advertising.refresh_audience_scores": {"queue": "ml"},  # fits a classifier over every shopper
    "analytics.cluster_*": {"queue": "ml"},
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Training on the full UCI file takes about a minute; 15 minutes is a generous hard stop.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=10 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=15 * 60)
# Redis broker: a message taken but not acknowledged is handed out again after this many seconds
# (a worker killed with SIGKILL cannot give it back). It must exceed the longest task's hard
# time limit (support.retrain_intents: 2000 s), or a task still running would be handed to a
# second worker; the delivery guard (ecommerce/celery.py) would skip that copy, but not run it
# sooner. 40 minutes is the delay before work of a dead worker resumes. README "Celery workers and the broker".
CELERY_BROKER_VISIBILITY_TIMEOUT = env.int("CELERY_BROKER_VISIBILITY_TIMEOUT", default=40 * 60)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_BROKER_VISIBILITY_TIMEOUT,
    # Seconds to wait for a TCP connect / a reply from Redis: a web request that enqueues while
    # the broker is gone fails within about this instead of hanging (the outbox takes over).
    "socket_connect_timeout": env.float("CELERY_BROKER_CONNECT_TIMEOUT", default=2.0),
    "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=2.0),
    "socket_keepalive": True,
    "retry_on_timeout": False,
    # Publishing: retry at most this many times, 0.2 s apart (max ~0.6 s), then raise.
    "max_retries": env.int("CELERY_BROKER_PUBLISH_MAX_RETRIES", default=2),
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# The same bounds for the producer side of .delay()/.apply_async() (any transport).
CELERY_TASK_PUBLISH_RETRY = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECT_TIMEOUT", default=2.0)
# Workers: wait for the broker at startup and after a loss, forever (None), instead of exiting
# after 100 attempts and leaving queued work to a manual restart.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# A running acks_late task is NOT cancelled when the broker connection drops: it finishes, and
# the copy the transport restores is skipped by the delivery guard (no work lost or redone).
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
# Result backend on the same Redis: bounded too, and retried on a reconnect.
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = env.float("CELERY_BROKER_CONNECT_TIMEOUT", default=2.0)
CELERY_REDIS_SOCKET_TIMEOUT = env.float("CELERY_BROKER_SOCKET_TIMEOUT", default=2.0)
CELERY_RESULT_BACKEND_ALWAYS_RETRY = True
CELERY_RESULT_BACKEND_MAX_RETRIES = 10
# .delay() subscribes to the task's result channel; by default it retries that 20 times, 1 s
# apart, so a web request hung 20 s when Redis was down. Two quick retries, then it raises.
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
    "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2},
}
CELERY_RESULT_EXPIRES = timedelta(days=1)
# Request paths enqueue through ecommerce.outbox.task_enqueue: the task is written to an outbox
# row in the caller's transaction and published after commit with this bound (no retries); when
# the broker does not answer, the row waits for drain_outbox (beat, every minute, or the command).
OUTBOX_PUBLISH_TIMEOUT = env.float("OUTBOX_PUBLISH_TIMEOUT", default=1.0)
# Rows younger than this are being published by their request; the drain leaves them alone.
OUTBOX_MIN_AGE = timedelta(seconds=env.int("OUTBOX_MIN_AGE_SECONDS", default=30))
# One schedule for the whole project; each app's tasks are named "<app>.<verb>_<noun>".
CELERY_BEAT_SCHEDULE = {
    "ecommerce-drain-outbox-every-minute": {
        "task": "ecommerce.drain_outbox",
        "schedule": timedelta(minutes=1),
    },
    # PostgreSQL event log: partitions for the months ahead, strays moved out of the default one.
    "ecommerce-daily-event-partitions": {
        "task": "ecommerce.ensure_event_partitions",
        "schedule": crontab(hour=1, minute=15),
    },
    "analytics-rollups-every-10-minutes": {
        "task": "analytics.refresh_rollups",
        "schedule": timedelta(minutes=10),
    },
    "recommendations-nightly-retrain": {
        "task": "recommendations.retrain_models",
        "schedule": crontab(hour=2, minute=0),
    },
    "support-nightly-intent-retrain": {
        "task": "support.retrain_intents",
        "schedule": crontab(hour=3, minute=0),
    },
    "advertising-nightly-ctr-retrain": {
        "task": "advertising.retrain_ctr",
        "schedule": crontab(hour=4, minute=0),
    },
    "advertising-report-rollups-every-10-minutes": {
        "task": "advertising.refresh_report_rollups",
        "schedule": timedelta(minutes=10),
    },
    # Segments feed ad targeting and the dashboard's segment filter; audience scores feed
    # lookalike campaigns. Both read the whole history, so nightly, after the retrains.
    "analytics-nightly-segments": {
        "task": "analytics.cluster_segments",
        "schedule": crontab(hour=4, minute=30),
    },
    "advertising-nightly-audience-scores": {
        "task": "advertising.refresh_all_audience_scores",
        "schedule": crontab(hour=5, minute=0),
    },
}

# Security. Production (DEBUG off) turns on HTTPS-only cookies, redirect and HSTS.
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    # Start with 60 s and raise to a year once HTTPS is proven (cookiecutter-django's advice).
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy (django-csp): scripts only from this site (or an inline script carrying the
# request's nonce); no third-party origin anywhere: Chart.js and Swagger UI are served from our
# static files. Style attributes stay allowed ('unsafe-inline' in style-src): the product tiles
# set a per-item colour through a style attribute and Swagger UI ships an inline <style>; styles
# cannot run code. CSP_EXTRA_IMG_SRC adds image hosts (a CDN for product photos) when needed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", *env.list("CSP_EXTRA_IMG_SRC", default=[])],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# Powerful browser features this shop never uses are switched off for every page.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
        "browsing-topics",
        "display-capture",
        "midi",
        "serial",
    )
}

EMAIL_BACKEND = env.str("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")

# Logs never carry personal data: ids only, passed through extra={...}.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# ---------------------------------------------------------------------------------------------
# Per-app settings. Each app reads these from django.conf.settings; only this file reads the
# environment. One block per app (keep them at the end and separate so merges stay easy).
# Every variable is documented in .env.example.
# ---------------------------------------------------------------------------------------------

# --- recommendations ---
RECOMMENDATIONS_POPULARITY_WINDOW_DAYS = env.int("RECOMMENDATIONS_POPULARITY_WINDOW_DAYS", default=90)
RECOMMENDATIONS_POPULARITY_CACHE_SECONDS = env.int("RECOMMENDATIONS_POPULARITY_CACHE_SECONDS", default=600)
RECOMMENDATIONS_SESSION_HISTORY_LIMIT = env.int("RECOMMENDATIONS_SESSION_HISTORY_LIMIT", default=10)
# How many products per customer and neighbours per product the pipeline precomputes.
RECOMMENDATIONS_PRECOMPUTE_TOP_N = env.int("RECOMMENDATIONS_PRECOMPUTE_TOP_N", default=30)
RECOMMENDATIONS_SIMILAR_TOP_N = env.int("RECOMMENDATIONS_SIMILAR_TOP_N", default=20)
# Customers per precompute chunk (one Celery task each; more chunks spread over more workers).
RECOMMENDATIONS_PRECOMPUTE_CHUNK_USERS = env.int("RECOMMENDATIONS_PRECOMPUTE_CHUNK_USERS", default=500)
# Customers with an order or event in this many days are "active" and get precomputed rows.
RECOMMENDATIONS_ACTIVE_USER_DAYS = env.int("RECOMMENDATIONS_ACTIVE_USER_DAYS", default=365 * 3)
# How long an identical API answer is reused (retrains and rule changes invalidate it sooner).
RECOMMENDATIONS_RESPONSE_CACHE_SECONDS = env.int("RECOMMENDATIONS_RESPONSE_CACHE_SECONDS", default=60)
# Answers that are the same for everyone (product neighbours, anonymous lists) are also kept in each
# process for this long (0: off), so a first visit's API request needs no Redis round trip; a
# retrain still shows everywhere within a second (recommendations/api.py _LocalAnswers).
RECOMMENDATIONS_LOCAL_CACHE_SECONDS = env.int("RECOMMENDATIONS_LOCAL_CACHE_SECONDS", default=10)
# How long a product page's similar / bought-together widget HTML is reused (same for everyone;
# retrains, rule changes and catalogue changes invalidate it sooner).
RECOMMENDATIONS_WIDGET_CACHE_SECONDS = env.int("RECOMMENDATIONS_WIDGET_CACHE_SECONDS", default=600)
# Threads the implicit library (ALS, BPR, its item-kNN) may use while training.
RECOMMENDATIONS_THREADS = env.int("RECOMMENDATIONS_THREADS", default=2)

# --- support ---
# How many open (assigned) conversations round-robin gives one agent at most.
SUPPORT_AGENT_MAX_ACTIVE = env.int("SUPPORT_AGENT_MAX_ACTIVE", default=5)
# Assign a handed-off conversation to the next agent at once (else it waits to be claimed).
SUPPORT_AUTO_ASSIGN = env.bool("SUPPORT_AUTO_ASSIGN", default=False)
# Seconds a signed Rasa sender token stays valid.
SUPPORT_RASA_TOKEN_MAX_AGE = env.int("SUPPORT_RASA_TOKEN_MAX_AGE", default=86_400)
# Load the sentence encoder when Django starts instead of on the first chat message (support/nlu/encoder.py).
SUPPORT_WARM_ENCODER = env.bool("SUPPORT_WARM_ENCODER", default=False)
# Interface the Rasa action server (manage.py run_action_server) listens on.
SUPPORT_ACTION_SERVER_HOST = env.str("SANIC_HOST", default="0.0.0.0")  # noqa: S104 - a server command's default

# --- advertising ---
# How many sponsored ads each slot shows at most, e.g. "listing=2,search=2,product=1".
ADS_SLOT_SIZES = {
    slot: int(n) for slot, n in env.dict("ADS_SLOT_SIZES", default={"listing": 2, "search": 2, "product": 1}).items()
}
ADS_MAX_PER_REQUEST = env.int("ADS_MAX_PER_REQUEST", default=5)
# Least price per click anybody pays (also the least CPC bid that may enter), and per 1,000 impressions.
ADS_RESERVE_CPC = Decimal(env.str("ADS_RESERVE_CPC", default="0.05"))
ADS_RESERVE_CPM = Decimal(env.str("ADS_RESERVE_CPM", default="0.50"))
# May advertisers' ads link to their own site (else only to this shop's product pages)? The
# merchant's AdsSettings row in the admin overrides this and the two reserve prices above.
ADS_ALLOW_EXTERNAL_LANDING_URLS = env.bool("ADS_ALLOW_EXTERNAL_LANDING_URLS", default=False)
# The click-through rate assumed for an ad with no history and no trained model.
ADS_PRIOR_CTR = env.float("ADS_PRIOR_CTR", default=0.02)
ADS_PACING = env.bool("ADS_PACING", default=True)
ADS_PACING_SLACK = env.float("ADS_PACING_SLACK", default=0.05)
# Seconds a signed click URL stays valid (a day: pages stay open in tabs).
ADS_CLICK_MAX_AGE = env.int("ADS_CLICK_MAX_AGE", default=24 * 3600)
# How long a process reuses its snapshot of live campaigns (0 = reload every request).
ADS_LIVE_CACHE_SECONDS = env.float("ADS_LIVE_CACHE_SECONDS", default=10.0)
# Where served impressions wait before the flush task writes them in bulk (advertising/buffer.py):
# "redis" (a list in the shared cache), "memory" (this process only: tests, one-process setups),
# "direct" (written and charged at serve time: the embedded default without a shared cache), or
# "auto" = redis when the cache is Redis, else direct. Redis down -> direct, per request.
ADS_BUFFER = env.str("ADS_BUFFER", default="auto")
# With the redis buffer, each process appends served impressions to its own file here and a
# thread ships them to the Redis list every ADS_SPOOL_SHIP_SECONDS (advertising/spool.py): a
# file, so a killed worker's impressions are adopted by another process, not lost. Local disk,
# per machine. 0 seconds = no thread: for tests only (a web worker's records would then reach
# Redis only when another process adopts its file after it dies).
ADS_SPOOL_DIR = env.str("ADS_SPOOL_DIR", default=str(VAR_DIR / "ad-spool"))
ADS_SPOOL_SHIP_SECONDS = env.float("ADS_SPOOL_SHIP_SECONDS", default=0.5)
# Seconds between flushes (beat task advertising.flush_impressions) and rows per flush.
ADS_FLUSH_SECONDS = env.int("ADS_FLUSH_SECONDS", default=10)
ADS_FLUSH_BATCH = env.int("ADS_FLUSH_BATCH", default=5000)
# Buffered ad impressions -> bulk INSERT + CPM settlement (README "Sponsored products").
CELERY_BEAT_SCHEDULE["advertising-flush-impressions"] = {
    "task": "advertising.flush_impressions",
    "schedule": timedelta(seconds=ADS_FLUSH_SECONDS),
}
# Least relevance (0-1) of a sponsored product to the page (same category, similar list, search
# words) for an untargeted, non-run-of-site ad to be shown there (advertising/relevance.py).
ADS_RELEVANCE_FLOOR = env.float("ADS_RELEVANCE_FLOOR", default=0.35)

# --- analytics ---
# Actor-days up to which distinct counts are exact; beyond, days' HyperLogLog sketches are merged.
# 5,000: ~170 active shoppers a day over 30 days (docs/benchmarks/analytics.md).
ANALYTICS_EXACT_ACTOR_DAYS = env.int("ANALYTICS_EXACT_ACTOR_DAYS", default=5_000)
# How many API calls the dashboard page makes at once.
ANALYTICS_DASHBOARD_PARALLEL = env.int("ANALYTICS_DASHBOARD_PARALLEL", default=4)
# The longest funnel window kept in the per-actor step table (the dashboard offers up to 30 days);
# longer windows read raw events. Each rollup refresh recomputes this many days of funnel entries.
ANALYTICS_FUNNEL_MAX_WINDOW_DAYS = env.int("ANALYTICS_FUNNEL_MAX_WINDOW_DAYS", default=30)
