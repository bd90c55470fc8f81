"""Tidegate settings: the one place that reads the environment.

Every knob is an environment variable with a development default. With DEBUG off,
secrets have no default and a missing one stops the process at start.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from gateway.busypoll import BUSY_POLL_CONN_GAP_US, BUSY_POLL_GAP_US, BUSY_POLL_US

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
# The SQLite file and generated keys live here; made 0700 (its secrets 0600) at start by
# portal/filemodes.py, from PortalConfig.ready().
SECRET_KEY = secret("TIDEGATE_SECRET_KEY", "dev-only-insecure-secret-key-change-me")
# Host names the portal answers to: the one browsers use (portal.example.com) and the one in
# TIDEGATE_PORTAL_URL, which gateways use (checked below: they must agree).
ALLOWED_HOSTS = [
    h.strip() for h in (env("TIDEGATE_ALLOWED_HOSTS") or "127.0.0.1,localhost,[::1],testserver").split(",") if h.strip()
]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "axes",
    # Two-factor sign-in for staff (portal/twofactor.py): TOTP devices and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "channels",
    "portal",
    "publisher",
    "devportal",
    "keymanager",
    "gateway_sync",
    "gateway",
    "demo",
    "analytics",
    "tidegate",
    "adminportal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Outside CommonMiddleware, so it sees the 404 after APPEND_SLASH had its say.
    "portal.errors.RestNotFoundMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A staff account without two-factor sign-in, while it is required, may only enrol.
    "portal.twofactor.TwoFactorRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out attempt into portal.throttle's 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tidegate.urls"
ASGI_APPLICATION = "tidegate.asgi.application"

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
                "adminportal.context_processors.admin_sections",
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
# django-axes refuses locked-out (name, address) pairs before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
# `manage.py collectstatic` copies every asset here (docs/deploy.md); the portal serves them.
STATIC_ROOT = Path(env("TIDEGATE_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
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
        "portal.throttle.LockoutBasicAuthentication",
        "keymanager.authentication.KeyManagerBearerAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "portal.errors.exception_handler",
    # ``?format=`` is ours (analytics CSV), not DRF's renderer switch.
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_SCHEMA_CLASS": "tidegate.openapi.TidegateSchema",
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
            "()": "portal.jsonlog.JsonFormatter",  # python-json-logger's, a shorter path per line
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": env("TIDEGATE_LOG_FORMAT", "plain")},
        "access": {"class": "logging.StreamHandler", "formatter": "json"},
        "refusals": {
            "class": "logging.StreamHandler",
            "formatter": env("TIDEGATE_LOG_FORMAT", "plain"),
            "filters": ["expected_refusal"],
        },
    },
    "filters": {"expected_refusal": {"()": "portal.deployment.ExpectedRefusal"}},
    "root": {"handlers": ["console"], "level": env("TIDEGATE_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # One WARNING line per failed sign-in (name and address masked); not its INFO chatter.
        "axes": {"level": "WARNING"},
        # Authlib logs each token it issues (access and refresh token whole) at DEBUG.
        "authlib": {"level": "WARNING"},
        # One JSON line per connection and per refused handshake (gateway/relay.py), and per
        # portal request but the gateways' own (tidegate/asgi.py; run Daphne with -v 0).
        "tidegate.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        # A request for a host name not in ALLOWED_HOSTS: one line, no traceback.
        "django.security.DisallowedHost": {"handlers": ["refusals"], "level": "WARNING", "propagate": False},
    },
}

# With Redis, configuration changes are pushed to gateways through the Channels layer.
_REDIS_URL = env("REDIS_URL") or env("TIDEGATE_REDIS_URL") or ""
# A gateway waits for pushes in channels_redis's blocking receive, 5 s at a time: the socket
# read timeout must outlast it (redis-py's default, also 5 s, cut every such wait and dropped
# the push every few seconds). Connecting gives up after 5 s, so a request whose commit pushes
# a change never hangs on an unreachable Redis; a dead peer is noticed by TCP keepalive.
CHANNEL_LAYERS = (
    {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [
                    {
                        "address": _REDIS_URL,
                        "socket_timeout": 15,
                        "socket_connect_timeout": 5,
                        "socket_keepalive": True,
                    }
                ]
            },
        }
    }
    if _REDIS_URL
    else {}
)

# With Redis the portal processes share one cache; while Redis is away each process counts
# in its own memory with a warning, never a 500 (portal/deployment.py). Nothing that decides
# who may sign in reads it: failed attempts are counted in the database (portal/throttle.py).
if _REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "portal.deployment.ResilientRedisCache",
            "LOCATION": _REDIS_URL,
            "OPTIONS": {"socket_timeout": 5, "socket_connect_timeout": 2},
        }
    }


def _trusted_proxies(value: str) -> tuple[str, ...]:
    from portal.clientip import parse_trusted_proxies

    try:
        return parse_trusted_proxies(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"TIDEGATE_TRUSTED_PROXIES: {exc}") from None


def _public_url(name: str, scheme: str) -> str:
    from portal.deployment import public_url

    return public_url(name, env(name), scheme)


def _ipv6_prefix(value: int) -> int:
    if not 0 <= value <= 128:
        raise ImproperlyConfigured(f"TIDEGATE_LOCKOUT_IPV6_PREFIX: {value} is not a prefix length (0-128)")
    return value


def _microseconds(name: str, default: int) -> int:
    try:
        return env_int(name, default)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number of microseconds, not {env(name)!r}") from None


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
    # Where clients reach the gateways of GATEWAY_ENVIRONMENTS from outside, as the Dev Portal
    # shows them: the balancer's origins (ws://gateway.example.com:9090, wss://gateway.example.com:9095).
    # Unset: from each environment's vhost and ports.
    "GATEWAY_PUBLIC_WS_URL": _public_url("TIDEGATE_GATEWAY_PUBLIC_WS_URL", "ws"),
    "GATEWAY_PUBLIC_WSS_URL": _public_url("TIDEGATE_GATEWAY_PUBLIC_WSS_URL", "wss"),
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
    # Failed sign-ins (login page, REST Basic, password grant) and client authentications
    # (/oauth2/token) are limited; see portal/throttle.py. Within LOCKOUT_WINDOW seconds of
    # its latest failure, a (user, address) pair is refused after LOCKOUT_FAILURES failures,
    # a (client id, address) pair after TOKEN_ENDPOINT_FAILURES (0: no limit; the old name
    # ..._PER_MINUTE is still read); once a user or client id has LOCKOUT_USERNAME_FAILURES
    # across addresses, every address that failed for it is refused, and a clean one has its
    # password checked only when the user's latest checked guess is LOCKOUT_USERNAME_INTERVAL
    # seconds old (0: no such wait). IPv6 clients count by their /LOCKOUT_IPV6_PREFIX.
    "LOCKOUT_FAILURES": env_int("TIDEGATE_LOCKOUT_FAILURES", 5),
    "LOCKOUT_USERNAME_FAILURES": env_int("TIDEGATE_LOCKOUT_USERNAME_FAILURES", 20),
    "LOCKOUT_USERNAME_INTERVAL": env_int("TIDEGATE_LOCKOUT_USERNAME_INTERVAL", 10),
    "LOCKOUT_IPV6_PREFIX": _ipv6_prefix(env_int("TIDEGATE_LOCKOUT_IPV6_PREFIX", 64)),
    "LOCKOUT_WINDOW": env_int("TIDEGATE_LOCKOUT_WINDOW", 900),
    "TOKEN_ENDPOINT_FAILURES": env_int(
        "TIDEGATE_TOKEN_ENDPOINT_FAILURES", env_int("TIDEGATE_TOKEN_ENDPOINT_FAILURES_PER_MINUTE", 10)
    ),
    # Reverse proxies whose X-Forwarded-For is believed (addresses or CIDRs, comma-separated);
    # see portal/clientip.py.
    "TRUSTED_PROXIES": _trusted_proxies(env("TIDEGATE_TRUSTED_PROXIES", "")),
    "BACKEND_CONNECT_TIMEOUT": float(env("TIDEGATE_BACKEND_CONNECT_TIMEOUT", "5")),
    # The "iss" of the JWT the gateway sends backends of APIs that ask for one (WSO2's default).
    "BACKEND_JWT_ISSUER": env("TIDEGATE_BACKEND_JWT_ISSUER", "wso2.org/products/am"),
    "MAX_FRAME_SIZE": env_int("TIDEGATE_MAX_FRAME_SIZE", 1024 * 1024),
    # A request head (request line and headers) larger than this gets 431, one not complete
    # this many seconds after the connection opened gets 408 (gateway/headlimits.py).
    "MAX_REQUEST_HEAD_BYTES": env_int("TIDEGATE_MAX_REQUEST_HEAD_BYTES", 16 * 1024),
    "HEAD_TIMEOUT": float(env("TIDEGATE_HEAD_TIMEOUT", "10")),
    # Close connections with no frame in either direction for this long (seconds, 0: never),
    # and connections older than this (seconds, 0: never). Choreo Connect: 300 s idle, 24 h.
    "IDLE_TIMEOUT": float(env("TIDEGATE_IDLE_TIMEOUT", "0")),
    "MAX_CONNECTION_LIFETIME": float(env("TIDEGATE_MAX_CONNECTION_LIFETIME", "0")),
    # Heartbeats on the client leg (gateway/clientleg.py): a client that sent nothing for
    # PING_INTERVAL seconds is pinged (0: never) and closed when no pong comes within
    # PING_TIMEOUT seconds (the backend gets 1001). Uvicorn only; Daphne has its own.
    "PING_INTERVAL": float(env("TIDEGATE_PING_INTERVAL", "30")),
    "PING_TIMEOUT": float(env("TIDEGATE_PING_TIMEOUT", "20")),
    # permessage-deflate with clients (off by default; the backend leg stays uncompressed),
    # with the LZ77 window (9-15 bits) and zlib memLevel (1-9) each connection may use.
    "CLIENT_COMPRESSION": env_bool("TIDEGATE_CLIENT_COMPRESSION", False),
    "COMPRESSION_MAX_WINDOW_BITS": env_int("TIDEGATE_COMPRESSION_MAX_WINDOW_BITS", 12),
    "COMPRESSION_MEM_LEVEL": env_int("TIDEGATE_COMPRESSION_MEM_LEVEL", 5),
    # Busy polling (gateway/busypoll.py, docs/gateway.md): keep polling sockets instead of
    # sleeping for BUSY_POLL_US microseconds after the last frame (0: off) -- adaptive: only
    # while the mean gap between frames is below BUSY_POLL_GAP_US and the mean gap between a
    # connection's own frames below BUSY_POLL_CONN_GAP_US; on: after every frame; off.
    # Lower latency for a busy core; checked when the gateway starts.
    "BUSY_POLL": (env("TIDEGATE_BUSY_POLL") or "adaptive").strip().lower(),
    "BUSY_POLL_US": _microseconds("TIDEGATE_BUSY_POLL_US", BUSY_POLL_US),
    "BUSY_POLL_GAP_US": _microseconds("TIDEGATE_BUSY_POLL_GAP_US", BUSY_POLL_GAP_US),
    "BUSY_POLL_CONN_GAP_US": _microseconds("TIDEGATE_BUSY_POLL_CONN_GAP_US", BUSY_POLL_CONN_GAP_US),
    # Tests only (honoured with TIDEGATE_DEBUG): the rate-limit counters read this fixed time
    # (seconds since the epoch) instead of the wall clock, so a window never turns over
    # while a test counts frames; gateways sharing Redis must be given the same value.
    "RATE_LIMIT_CLOCK": (
        float(env("TIDEGATE_RATE_LIMIT_CLOCK")) if DEBUG and env("TIDEGATE_RATE_LIMIT_CLOCK") else None
    ),
    # External issuers' JWKS are fetched again on an unknown key id at most this often (seconds).
    "JWKS_MIN_REFRESH": float(env("TIDEGATE_JWKS_MIN_REFRESH", "30")),
    # Seconds of clock skew the gateway tolerates on a token's exp and nbf: at the handshake,
    # when open connections are judged again, and for the expiry sweep alike (docs/gateway.md).
    "TOKEN_LEEWAY": float(env("TIDEGATE_TOKEN_LEEWAY", "0")),
    # Seconds a connect ticket (the gateway's POST /tickets) stays valid for its one handshake.
    "TICKET_VALIDITY": float(env("TIDEGATE_TICKET_VALIDITY", "30")),
    # Connect tickets one token is given per 30 s (the next is 429 with Retry-After).
    "TICKETS_PER_TOKEN": int(env("TIDEGATE_TICKETS_PER_TOKEN", "100")),
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
    # Limits on AsyncAPI definitions, checked while they are read (docs/publisher.md).
    "DEFINITION_MAX_BYTES": env_int("TIDEGATE_DEFINITION_MAX_BYTES", 2 * 1024 * 1024),
    "DEFINITION_MAX_DEPTH": env_int("TIDEGATE_DEFINITION_MAX_DEPTH", 64),
    "DEFINITION_MAX_NODES": env_int("TIDEGATE_DEFINITION_MAX_NODES", 20_000),
    "DEFINITION_MAX_STRING": env_int("TIDEGATE_DEFINITION_MAX_STRING", 65_536),
    "DEFINITION_MAX_CHANNELS": env_int("TIDEGATE_DEFINITION_MAX_CHANNELS", 1_000),
}

# Gateways present TIDEGATE_PORTAL_URL's host to the portal: it must be one the portal allows.
from portal.deployment import check_portal_url  # noqa: E402

check_portal_url(TIDEGATE["PORTAL_URL"], ALLOWED_HOSTS)

# django-axes (portal/throttle.py): the database handler, so every portal process counts the
# same failures and none depends on the cache; thresholds and window come from TIDEGATE above.
AXES_HANDLER = "portal.throttle.LockoutHandler"
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_FAILURE_LIMIT = "portal.throttle.failure_limit"
AXES_COOLOFF_TIME = "portal.throttle.cool_off"
AXES_CLIENT_IP_CALLABLE = "portal.clientip.lockout_address"
AXES_LOCKOUT_CALLABLE = "portal.throttle.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True
# One row per failed attempt, with locked_out set for refused ones: what /metrics counts.
# Kept until `manage.py axes_reset_failure_logs --age N`; no per-user cap (axes' cap would make
# the counters go down).
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_ACCESS_FAILURE_LOG_PER_USER_LIMIT = 2**31
# Axes keeps the form fields of failed attempts; none of these may be stored.
AXES_SENSITIVE_PARAMETERS = [
    "username",
    "ip_address",
    "password",
    "client_secret",
    "refresh_token",
    "token",
    "access_token",
    "code",
]

# django-otp (portal/twofactor.py): the issuer shown in authenticator apps. Its own
# exponential back-off is off: a wrong code is counted by django-axes, as a wrong password is.
OTP_TOTP_ISSUER = "Tidegate"
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_STATIC_THROTTLE_FACTOR = 0

# --- Transport security and Content-Security-Policy --------------------------------------
# With debug off the portal is served over HTTPS, by itself or behind a TLS-terminating
# proxy (docs/deploy.md, "Security settings").
from csp.constants import NONE, SELF  # noqa: E402

# The header a TLS-terminating proxy sets to "https" on every request it passed on over TLS,
# e.g. X-Forwarded-Proto. Set only when the proxy overwrites that header: a client could
# otherwise claim HTTPS for a plain request.
_PROXY_SSL_HEADER = env("TIDEGATE_PROXY_SSL_HEADER") or ""
if _PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https")
# Plain-HTTP requests are redirected to https://; off (0) when the proxy redirects itself.
SECURE_SSL_REDIRECT = env_bool("TIDEGATE_SSL_REDIRECT", not DEBUG)
# Never redirected: gateways pull their snapshot and post analytics to TIDEGATE_PORTAL_URL,
# plain http://127.0.0.1:8000 on the portal's own host, and health checks probe /healthz.
SECURE_REDIRECT_EXEMPT = [r"^internal/gateway/", r"^healthz$"]
# Strict-Transport-Security on HTTPS responses: a year by default with debug off,
# subdomains included, and consent to the browsers' preload list (which still needs a
# submission from the apex domain to take effect).
SECURE_HSTS_SECONDS = env_int("TIDEGATE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("TIDEGATE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("TIDEGATE_HSTS_PRELOAD", True)
# Session and CSRF cookies travel over HTTPS only.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("TIDEGATE_SECURE_COOKIES", not DEBUG)

# Content-Security-Policy on every page, debug or not (so the browser tests run under it).
# Scripts and styles come from our own static files only (no inline scripts; JSON data
# blocks are not scripts). The live console (Dev Portal, Try Out) opens WebSockets to the
# gateway URLs the Dev Portal shows: those of the default environment are allowed here, from
# the settings the Default environment is made from (its public URLs when set); the API page adds the URLs of each
# environment it shows (devportal/views.py, portal/csp.py).
MIDDLEWARE += ["csp.middleware.CSPMiddleware"]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # Pico's form controls draw their icons from data: SVG URLs in its stylesheet.
        "img-src": [SELF, "data:"],
        "connect-src": [
            SELF,
            TIDEGATE["GATEWAY_PUBLIC_WS_URL"] or f"ws://{TIDEGATE['GATEWAY_VHOST']}:{TIDEGATE['GATEWAY_WS_PORT']}",
            TIDEGATE["GATEWAY_PUBLIC_WSS_URL"] or f"wss://{TIDEGATE['GATEWAY_VHOST']}:{TIDEGATE['GATEWAY_WSS_PORT']}",
        ],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
