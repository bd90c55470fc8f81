"""Tidegate settings: the one place that reads the environment.

Every knob is an environment variable with a development default. With DEBUG off,
secrets have no default and a missing one stops the process at start.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


DEBUG = env_bool("TIDEGATE_DEBUG")

# OAuth2 demands TLS; development runs the portal on plain http://127.0.0.1, so Authlib is
# told to allow it there. In production the portal sits behind TLS.
if DEBUG or env_bool("TIDEGATE_OAUTH_ALLOW_HTTP"):
    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")


def secret(name: str, dev_default: str) -> str:
    value = env(name)
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(f"{name} must be set when TIDEGATE_DEBUG is off")


DATA_DIR = Path(env("TIDEGATE_DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)  # the SQLite file and generated keys live here
SECRET_KEY = secret("TIDEGATE_SECRET_KEY", "dev-only-insecure-secret-key-change-me")
ALLOWED_HOSTS = (env("TIDEGATE_ALLOWED_HOSTS") or "127.0.0.1,localhost,[::1],testserver").split(",")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "channels",
    "portal",
    "publisher",
    "devportal",
    "keymanager",
    "gateway_sync",
    "gateway",
    "demo",
    "analytics",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"

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
                "portal.context_processors.roles",
            ]
        },
    }
]

# SQLite in the data directory by default; DATABASE_URL (postgres://user:pass@host:port/db)
# when one machine is not enough.
if env("DATABASE_URL"):
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(env("DATABASE_URL"), conn_max_age=60, conn_health_checks=True)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env("TIDEGATE_SQLITE_PATH", str(DATA_DIR / "db.sqlite3")),
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Front-end assets come from npm (node_modules) and are served locally, never from a CDN.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/pico", BASE_DIR / "node_modules" / "@picocss" / "pico" / "css"),
    ("vendor/chartjs", BASE_DIR / "node_modules" / "chart.js" / "dist"),
    # The AsyncAPI documentation renderer (a web component bundling React) and its styles.
    ("vendor/asyncapi", BASE_DIR / "node_modules" / "@asyncapi" / "web-component" / "lib"),
    ("vendor/asyncapi-styles", BASE_DIR / "node_modules" / "@asyncapi" / "react-component" / "styles"),
]

# WhiteNoise serves static files from the portal process itself; from the finders (no
# collectstatic step) so a fresh clone works with `make run`.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
        "portal.auth.KeyManagerBearerAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "portal.errors.exception_handler",
    # ``?format=`` is ours (analytics CSV), not DRF's renderer switch.
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_SCHEMA_CLASS": "portal.openapi.TidegateSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tidegate REST API",
    "DESCRIPTION": "Publisher v4, Dev Portal v3 and Admin v4 paths, shaped after WSO2 API Manager.",
    "VERSION": "0.1.0",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": env("TIDEGATE_LOG_FORMAT", "plain")},
        "access": {"class": "logging.StreamHandler", "formatter": "json"},
    },
    "root": {"handlers": ["console"], "level": env("TIDEGATE_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # One JSON line per connection and per refused handshake (gateway/relay.py).
        "tidegate.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}

# With Redis, configuration changes are pushed to gateways through the Channels layer.
_REDIS_URL = env("REDIS_URL") or env("TIDEGATE_REDIS_URL") or ""
CHANNEL_LAYERS = (
    {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [_REDIS_URL]}}}
    if _REDIS_URL
    else {}
)

# With Redis the portal processes share one cache (the token endpoint's count of failed
# attempts per address); without it each process counts on its own.
if _REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _REDIS_URL}}

# Everything the gateway and the control plane need to find each other, in one namespaced dict.
TIDEGATE = {
    # Redis, when set: rate-limit counters shared by every gateway process.
    "REDIS_URL": _REDIS_URL,
    # Where gateways pull their configuration snapshot from, and the shared token they present.
    "PORTAL_URL": env("TIDEGATE_PORTAL_URL", "http://127.0.0.1:8000"),
    "GATEWAY_TOKEN": secret("TIDEGATE_GATEWAY_TOKEN", "dev-gateway-token"),
    # Gateway listeners.
    "GATEWAY_HOST": env("TIDEGATE_GATEWAY_HOST", "127.0.0.1"),
    "GATEWAY_WS_PORT": env_int("TIDEGATE_GATEWAY_WS_PORT", 9090),
    "GATEWAY_WSS_PORT": env_int("TIDEGATE_GATEWAY_WSS_PORT", 9095),
    # The host name shown to developers in gateway URLs (WSO2's default vhost).
    "GATEWAY_VHOST": env("TIDEGATE_GATEWAY_VHOST", "localhost"),
    # Environments this gateway serves.
    "GATEWAY_ENVIRONMENTS": (env("TIDEGATE_GATEWAY_ENVIRONMENTS") or "Default").split(","),
    # Seconds between snapshot version checks.
    "SYNC_INTERVAL": float(env("TIDEGATE_SYNC_INTERVAL", "0.25")),
    # A handshake refused for keys, a subscription or an API the gateway has not seen yet
    # makes it pull first; such pulls start at most this often (seconds) per gateway process.
    "MISS_SYNC_INTERVAL": float(env("TIDEGATE_MISS_SYNC_INTERVAL", "0.1")),
    # deploy-revision?wait=true waits at most this long (seconds) for the gateways that
    # reported within GATEWAY_REPORT_WINDOW seconds (or two of their own pull intervals).
    "DEPLOY_WAIT_TIMEOUT": float(env("TIDEGATE_DEPLOY_WAIT_TIMEOUT", "10")),
    "GATEWAY_REPORT_WINDOW": float(env("TIDEGATE_GATEWAY_REPORT_WINDOW", "5")),
    # Issuer URLs of the built-in Key Manager and of the gateway's /testkey.
    "KEY_MANAGER_ISSUER": env("TIDEGATE_KM_ISSUER", "https://localhost:9443/oauth2/token"),
    "TESTKEY_ISSUER": env("TIDEGATE_TESTKEY_ISSUER", "https://localhost:9095/testkey"),
    # Gateway users allowed to call /testkey, "user:password,...". Development only by default.
    "TESTKEY_USERS": env("TIDEGATE_TESTKEY_USERS", "admin:admin" if DEBUG else ""),
    "TOKEN_VALIDITY": env_int("TIDEGATE_TOKEN_VALIDITY", 3600),
    "REFRESH_TOKEN_VALIDITY": env_int("TIDEGATE_REFRESH_TOKEN_VALIDITY", 86400),
    # Developers may create their own accounts in the Dev Portal.
    "SIGNUP_ENABLED": env_bool("TIDEGATE_SIGNUP_ENABLED", True),
    # Failed client authentications per address per minute before /oauth2/token answers 429.
    "TOKEN_ENDPOINT_FAILURES_PER_MINUTE": env_int("TIDEGATE_TOKEN_ENDPOINT_FAILURES_PER_MINUTE", 10),
    "BACKEND_CONNECT_TIMEOUT": float(env("TIDEGATE_BACKEND_CONNECT_TIMEOUT", "5")),
    "MAX_FRAME_SIZE": env_int("TIDEGATE_MAX_FRAME_SIZE", 1024 * 1024),
    # Close connections with no frame in either direction for this long (seconds, 0: never),
    # and connections older than this (seconds, 0: never). Choreo Connect: 300 s idle, 24 h.
    "IDLE_TIMEOUT": float(env("TIDEGATE_IDLE_TIMEOUT", "0")),
    "MAX_CONNECTION_LIFETIME": float(env("TIDEGATE_MAX_CONNECTION_LIFETIME", "0")),
    # Keep polling sockets instead of sleeping for this many microseconds after the last
    # frame (0: off). Lower latency and more throughput for a busy core (gateway/busypoll.py).
    "BUSY_POLL_US": env_int("TIDEGATE_BUSY_POLL_US", 0),
    # External issuers' JWKS are fetched again on an unknown key id at most this often (seconds).
    "JWKS_MIN_REFRESH": float(env("TIDEGATE_JWKS_MIN_REFRESH", "30")),
    # Frame analytics: counted at the gateway, shipped in batches every ANALYTICS_INTERVAL
    # seconds to the portal (or ANALYTICS_URL), kept ANALYTICS_RETENTION_DAYS days.
    "ANALYTICS": env_bool("TIDEGATE_ANALYTICS", True),
    "ANALYTICS_URL": env("TIDEGATE_ANALYTICS_URL") or "",
    "ANALYTICS_INTERVAL": float(env("TIDEGATE_ANALYTICS_INTERVAL", "5")),
    "ANALYTICS_RETENTION_DAYS": env_int("TIDEGATE_ANALYTICS_RETENTION_DAYS", 30),
    # On SIGTERM the gateway stops accepting and closes connections (1001) over this window.
    "DRAIN_SECONDS": float(env("TIDEGATE_DRAIN_SECONDS", "5")),
    # Publisher import by URL fetches from public addresses only, unless this is set.
    "IMPORT_URL_ALLOW_PRIVATE": env_bool("TIDEGATE_IMPORT_URL_ALLOW_PRIVATE", False),
}
