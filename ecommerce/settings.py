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
from pathlib import Path

import environ
from celery.schedules import crontab
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
    "ecommerce.apps.EcommerceConfig",
    "recommendations.apps.RecommendationsConfig",
    "support.apps.SupportConfig",
    "advertising.apps.AdvertisingConfig",
    "analytics.apps.AnalyticsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "ecommerce.middleware.PrivacyConsentMiddleware",
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
if not DEBUG and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("Production (DJANGO_DEBUG=0) needs a PostgreSQL DATABASE_URL.")
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
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
SHARED_CACHE = bool(_cache_url)  # one cache for every process (Redis), not per-process memory

# Signed-in requests read the session and the user from the shared cache instead of the database
# (half the cost of a personal API request, docs/benchmarks/recommendations.md). Only with a
# shared cache: a per-process LocMem cache cannot tell other processes that a session ended or a
# user changed. ecommerce.sessions is Django's cached_db (sessions still written to the database,
# so a cache flush logs nobody out) whose signed-in keys carry the user id as a lookup hint.
SESSION_ENGINE = env.str(
    "DJANGO_SESSION_ENGINE",
    default="ecommerce.sessions" if SHARED_CACHE else "django.contrib.sessions.backends.db",
)
AUTHENTICATION_BACKENDS = ["ecommerce.auth_backends.CachedModelBackend"]
AUTH_USER_CACHE_SECONDS = env.int("AUTH_USER_CACHE_SECONDS", default=300 if SHARED_CACHE else 0)
if not DEBUG and not SHARED_CACHE and (AUTH_USER_CACHE_SECONDS or SESSION_ENGINE == "ecommerce.sessions"):
    raise ImproperlyConfigured(
        "AUTH_USER_CACHE_SECONDS and the ecommerce.sessions engine need a shared cache (CACHE_URL): "
        "a per-process cache would keep logged-out sessions and changed users alive in other processes."
    )

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
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
}
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
    "advertising.retrain_*": {"queue": "ml"},
    "advertising.refresh_audience_scores": {"queue": "ml"},  # fits a classifier over every shopper
    "analytics.cluster_*": {"queue": "ml"},
}
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Training on the full UCI file takes about a minute; 15 minutes is a generous hard stop.
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=10 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=15 * 60)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# One schedule for the whole project; each app's tasks are named "<app>.<verb>_<noun>".
CELERY_BEAT_SCHEDULE = {
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
