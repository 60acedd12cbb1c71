"""The emulator's credentials: the arguments, else the environment, else a fixed test pair."""

from __future__ import annotations

import os

from ..credentials import Credentials

#: The fixed test key pair used when neither arguments nor the environment give one.
TEST_ACCESS_KEY = "AKIDKVSEMULATORTEST1"
TEST_SECRET_KEY = "kvs-emulator-test-secret-do-not-use-in-aws"


def resolve_credentials(access_key: str | None, secret_key: str | None) -> Credentials:
    """Arguments, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, else the fixed test pair."""
    if access_key and secret_key:
        return Credentials(access_key, secret_key)
    if access_key or secret_key:
        raise ValueError("give both an access key and a secret key, or neither")
    env_key = os.environ.get("AWS_ACCESS_KEY_ID")
    env_secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
    if env_key and env_secret:
        return Credentials(env_key, env_secret)
    return Credentials(TEST_ACCESS_KEY, TEST_SECRET_KEY)
