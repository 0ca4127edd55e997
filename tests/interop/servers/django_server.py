"""Django 5.2 with two third-party auth stacks mounted, each as the libraries document them:

- djoser + djangorestframework-simplejwt at /auth/: JSON signup (`/auth/users/`), JWT pair
  (`/auth/jwt/create/`), rotating refresh (`/auth/jwt/refresh/`), `/auth/users/me/` with a
  `Bearer` access token;
- django-allauth at /accounts/: HTML signup and login forms protected by Django's
  CsrfViewMiddleware (csrftoken cookie + hidden csrfmiddlewaretoken field), a database-backed
  session cookie afterwards; `/auth/users/me/` accepts that session too (DRF SessionAuthentication).

Choices of ours: a SQLite file in --dir, the MD5 password hasher (fast for CI; never use it in
production), allauth's rate limits off (every virtual user comes from 127.0.0.1) and e-mail
verification off. Run: python django_server.py --port PORT --dir DIR
"""

import os
import secrets

import django
from django.conf import settings

import _serve

opts = _serve.args()
settings.configure(
    DEBUG=False,
    SECRET_KEY=secrets.token_hex(32),
    ALLOWED_HOSTS=["127.0.0.1", "localhost"],
    ROOT_URLCONF=__name__,
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(opts.dir, "django.db"),
        }
    },
    INSTALLED_APPS=[
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "rest_framework",
        "djoser",
        "allauth",
        "allauth.account",
    ],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
        "allauth.account.middleware.AccountMiddleware",
    ],
    TEMPLATES=[
        {
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
        }
    ],
    AUTHENTICATION_BACKENDS=[
        "django.contrib.auth.backends.ModelBackend",
        "allauth.account.auth_backends.AuthenticationBackend",
    ],
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    REST_FRAMEWORK={
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework_simplejwt.authentication.JWTAuthentication",
            "rest_framework.authentication.SessionAuthentication",
        ]
    },
    SIMPLE_JWT={"ROTATE_REFRESH_TOKENS": True},
    ACCOUNT_LOGIN_METHODS={"username"},
    ACCOUNT_SIGNUP_FIELDS=["username*", "email*", "password1*", "password2*"],
    ACCOUNT_EMAIL_VERIFICATION="none",
    ACCOUNT_RATE_LIMITS=False,
    ACCOUNT_AUTHENTICATED_LOGIN_REDIRECTS=False,
    LOGIN_REDIRECT_URL="/auth/users/me/",
    USE_TZ=True,
)
django.setup()

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.urls import include, path  # noqa: E402

urlpatterns = [
    path("auth/", include("djoser.urls")),
    path("auth/", include("djoser.urls.jwt")),
    path("accounts/", include("allauth.urls")),
]

if __name__ == "__main__":
    call_command("migrate", verbosity=0, interactive=False)
    _serve.serve(get_asgi_application(), opts.port, opts.dir)
