"""Settings for the test suite: production settings (RHINO_DEBUG off) with test-only secrets."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("RHINO_AUDIT_KEY", "test-audit-key-not-for-production-0123456789")
os.environ.setdefault("RHINO_SSL_REDIRECT", "0")
os.environ.setdefault("RHINO_VAR_DIR", tempfile.mkdtemp(prefix="rhino-test-var-"))

from rhino_web.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast hashing in tests only
