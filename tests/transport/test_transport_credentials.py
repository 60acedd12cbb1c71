"""Credentials and region through botocore's real chain (env, shared files, credential_process),
always resolved off the event loop, refreshed once under concurrency."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from blockbuster import BlockBuster, blockbuster_ctx
from transport_helpers import fake_kvs

from kvs_async import Credentials, CredentialsError
from kvs_async.credentials import (
    BotocoreCredentialProvider,
    ExpiringCredentials,
    RefreshingCredentialProvider,
    StaticCredentialProvider,
    credential_provider,
    resolve_region,
)
from kvs_async.kinesisvideo import KinesisVideoClient

_PROCESS = """
import json, sys
from datetime import datetime, timedelta, timezone
counter = sys.argv[1]
with open(counter, "a") as f:
    f.write("x")
n = len(open(counter).read())
expiry = datetime.now(timezone.utc) + timedelta(minutes=5)
print(json.dumps({
    "Version": 1,
    "AccessKeyId": f"AKIDPROC{n}",
    "SecretAccessKey": f"proc-secret-{n}",
    "SessionToken": f"proc-token-{n}",
    "Expiration": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
}))
"""


@pytest.fixture
def blockbuster() -> Iterator[BlockBuster]:
    with blockbuster_ctx() as bb:
        yield bb


@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated AWS configuration: our own files, no env credentials, no metadata calls."""
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    # Written here, before the blocking-call detector starts for the test body.
    script = tmp_path / "creds.py"
    script.write_text(_PROCESS)
    (tmp_path / "count").write_text("")
    (tmp_path / "credentials").write_text(
        "[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = dev-secret\n"
    )
    (tmp_path / "config").write_text(
        "[default]\nregion = eu-north-1\n"
        "[profile dev]\nregion = eu-west-1\n"
        f"[profile proc]\ncredential_process = {sys.executable} {script} {tmp_path / 'count'}\n"
    )
    return tmp_path


async def test_env_credentials(
    aws_home: Path, monkeypatch: pytest.MonkeyPatch, blockbuster: BlockBuster
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-token")
    creds = await BotocoreCredentialProvider().get_credentials()
    assert creds == Credentials("AKIDENV", "env-secret", "env-token")


async def test_profile_credentials_and_region(aws_home: Path, blockbuster: BlockBuster) -> None:
    provider = BotocoreCredentialProvider("dev")
    assert await provider.get_credentials() == Credentials("AKIDDEV", "dev-secret")
    assert "dev-secret" not in repr(provider)
    assert await resolve_region(None, "dev") == "eu-west-1"
    assert await resolve_region("ap-south-1", "dev") == "ap-south-1"


async def test_region_from_environment_wins_over_profile(
    aws_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert await resolve_region(None, None) == "eu-north-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-2")
    assert await resolve_region(None, None) == "us-east-2"
    monkeypatch.setenv("AWS_REGION", "us-west-1")
    assert await resolve_region(None, None) == "us-west-1"


async def test_no_credentials_is_typed(aws_home: Path, blockbuster: BlockBuster) -> None:
    with pytest.raises(CredentialsError, match="no AWS credentials"):
        await BotocoreCredentialProvider().get_credentials()


async def test_client_uses_profile_credentials_and_region(
    aws_home: Path, blockbuster: BlockBuster
) -> None:
    async with fake_kvs({"AKIDDEV": "dev-secret"}) as kvs:
        async with KinesisVideoClient(profile="dev", endpoint_url=kvs.url) as client:
            assert client.region == "eu-west-1"
            await client.describe_stream(stream_name="s")
    auth = kvs.seen[0].headers["Authorization"]
    assert "/eu-west-1/kinesisvideo/aws4_request" in auth


async def test_credential_process_refreshed_once_under_concurrency(
    aws_home: Path, blockbuster: BlockBuster
) -> None:
    counter = aws_home / "count"
    now = [datetime.now(UTC)]
    provider = BotocoreCredentialProvider("proc", clock=lambda: now[0])
    first = await asyncio.gather(*(provider.get_credentials() for _ in range(100)))
    assert len(set(first)) == 1
    assert first[0].access_key.startswith("AKIDPROC")
    runs = len(await asyncio.to_thread(counter.read_text))
    assert provider.refresh_count == 1
    now[0] += timedelta(minutes=3)  # past half of the 5-minute lifetime: refresh due
    second = await asyncio.gather(*(provider.get_credentials() for _ in range(100)))
    assert len(set(second)) == 1
    assert second[0] != first[0]
    assert provider.refresh_count == 2
    assert len(await asyncio.to_thread(counter.read_text)) == runs + 1


def test_credential_provider_choice() -> None:
    static = credential_provider(Credentials("a", "b"), None)
    assert isinstance(static, StaticCredentialProvider)
    assert "b" not in repr(static).replace("StaticCredentialProvider", "")
    assert isinstance(credential_provider(None, "p"), BotocoreCredentialProvider)
    assert credential_provider(static, None) is static


async def test_failed_refresh_reuses_valid_credentials_then_raises_typed() -> None:
    now = [datetime(2030, 1, 1, tzinfo=UTC)]
    calls: list[int] = []

    def loader() -> ExpiringCredentials:
        calls.append(1)
        if len(calls) > 1:
            raise OSError("metadata service unreachable")
        return ExpiringCredentials(
            credentials=Credentials("AKIDR", "refresh-secret", "refresh-token"),
            expiry=now[0] + timedelta(hours=1),
        )

    provider = RefreshingCredentialProvider(loader, clock=lambda: now[0])
    first = await provider.get_credentials()
    now[0] += timedelta(minutes=50)  # refresh due, old ones still valid for 10 minutes
    assert await provider.get_credentials() == first
    assert await provider.get_credentials() == first
    assert len(calls) == 2  # a failed refresh is retried after a pause, not on every call
    now[0] += timedelta(seconds=31)
    assert await provider.get_credentials() == first
    assert len(calls) == 3
    now[0] += timedelta(minutes=15)  # now expired
    with pytest.raises(CredentialsError) as info:
        await provider.get_credentials()
    assert isinstance(info.value.__cause__, OSError)
    assert "refresh-secret" not in str(info.value)
    assert "refresh-token" not in str(info.value)
