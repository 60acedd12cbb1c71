"""Clients built from the CLI's connection flags, with retries reported to the status line."""

from __future__ import annotations

import argparse
import importlib
import os
from typing import Any

from ..client import BaseClient
from ..config import ClientConfig
from ..dataplane import DATA_PLANE_SERVICES
from .errors import UsageError
from .options import environment_endpoint
from .status import Status


def endpoint_of(args: argparse.Namespace) -> str | None:
    """--endpoint-url, else AWS_ENDPOINT_URL_KINESIS_VIDEO / AWS_ENDPOINT_URL (validated)."""
    url: str | None = getattr(args, "endpoint_url", None)
    return url or environment_endpoint()


def check_profile(args: argparse.Namespace) -> None:
    """Refuse --profile / AWS_PROFILE naming a profile no AWS file defines (before any call)."""
    name = getattr(args, "profile", None) or os.environ.get("AWS_PROFILE")
    if not name:
        return
    session_module = importlib.import_module("botocore.session")
    try:
        known = session_module.Session().available_profiles
    except Exception:  # unreadable files: the credential chain reports it in its words
        return
    if name not in known:
        flag = "--profile" if getattr(args, "profile", None) else "AWS_PROFILE"
        raise UsageError(
            f"{flag} {name}: no such profile in ~/.aws/config or ~/.aws/credentials",
            f"pick one of {', '.join(sorted(known))}" if known else "configure it or drop it",
        )


def client_config(args: argparse.Namespace, status: Status | None = None) -> ClientConfig:
    """Timeouts from the flags; retries announced on ``status``."""
    options: dict[str, Any] = {}
    if getattr(args, "connect_timeout", None) is not None:
        options["connect_timeout"] = args.connect_timeout
    if getattr(args, "read_timeout", None) is not None:
        options["read_timeout"] = args.read_timeout
    return ClientConfig(on_retry=status.retry if status is not None else None, **options)


def client_kwargs(
    client: type[BaseClient], args: argparse.Namespace, status: Status | None = None
) -> dict[str, Any]:
    """Keyword arguments for ``client(...)`` (any generated client) from the flags.

    A data-plane client gets the endpoint as ``control_endpoint_url`` and discovers its
    own through it; a control-plane client uses it directly.
    """
    check_profile(args)
    url = endpoint_of(args)
    data_plane = client.SERVICE.name in DATA_PLANE_SERVICES
    return {
        "region": args.region,
        "profile": args.profile,
        "config": client_config(args, status),
        ("control_endpoint_url" if data_plane else "endpoint_url"): url,
    }
