"""Against a real peer: moto's server with IAM signature checking switched on.

moto checks SigV4 once ``INITIAL_NO_AUTH_ACTION_COUNT`` unauthenticated actions
have run (its documented switch); those are used to create an IAM user with an
allow-all policy and an access key, whose credentials our client then signs with.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from blockbuster import BlockBuster, blockbuster_ctx

from kvs_async import Credentials, ServiceError
from kvs_async.kinesisvideo import KinesisVideoClient, ResourceNotFoundException


@pytest.fixture
def blockbuster() -> Iterator[BlockBuster]:
    with blockbuster_ctx() as bb:
        yield bb


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def moto_iam() -> Iterator[tuple[str, Credentials]]:
    boto3 = pytest.importorskip("boto3")
    port = _free_port()
    env = {
        **os.environ,
        "INITIAL_NO_AUTH_ACTION_COUNT": "3",
        "AWS_ACCESS_KEY_ID": "bootstrap",
        "AWS_SECRET_ACCESS_KEY": "bootstrap",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        iam = boto3.client(
            "iam",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
        )
        iam.create_user(UserName="kvs-tester")
        iam.put_user_policy(
            UserName="kvs-tester",
            PolicyName="kvs",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "kinesisvideo:*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="kvs-tester")["AccessKey"]
        yield url, Credentials(key["AccessKeyId"], key["SecretAccessKey"])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def test_moto_accepts_signed_control_plane_calls(
    moto_iam: tuple[str, Credentials], blockbuster: BlockBuster
) -> None:
    url, creds = moto_iam
    async with KinesisVideoClient(region="us-west-2", credentials=creds, endpoint_url=url) as kv:
        created = await kv.create_stream(stream_name="moto-s1", data_retention_in_hours=2)
        assert created.stream_arn is not None
        described = await kv.describe_stream(stream_name="moto-s1")
        assert described.stream_info is not None
        assert described.stream_info.stream_arn == created.stream_arn
        assert described.stream_info.data_retention_in_hours == 2
        listed = await kv.list_streams()
        assert "moto-s1" in [s.stream_name for s in listed.stream_info_list or ()]
        endpoint = await kv.get_data_endpoint(stream_name="moto-s1", api_name="GET_MEDIA")
        assert endpoint.data_endpoint is not None
        assert endpoint.data_endpoint.startswith("https://")
        await kv.delete_stream(stream_arn=created.stream_arn)
        with pytest.raises(ResourceNotFoundException) as info:
            await kv.describe_stream(stream_name="moto-s1")
        assert info.value.status_code == 404 or info.value.status_code == 400


async def test_moto_rejects_wrong_secret_with_typed_error(
    moto_iam: tuple[str, Credentials], blockbuster: BlockBuster
) -> None:
    url, creds = moto_iam
    wrong = Credentials(creds.access_key, creds.secret_key[:-1] + "X")
    async with KinesisVideoClient(region="us-west-2", credentials=wrong, endpoint_url=url) as kv:
        with pytest.raises(ServiceError) as info:
            await kv.list_streams()
    assert info.value.status_code == 403
    assert info.value.code == "SignatureDoesNotMatch"
    assert not info.value.retryable
    assert wrong.secret_key not in str(info.value)
    async with KinesisVideoClient(
        region="us-west-2",
        credentials=Credentials("AKIAUNKNOWNUNKNOWN00", "whatever"),
        endpoint_url=url,
    ) as kv:
        with pytest.raises(ServiceError) as unknown:
            await kv.list_streams()
    assert unknown.value.status_code == 403
    assert unknown.value.code == "InvalidClientTokenId"
