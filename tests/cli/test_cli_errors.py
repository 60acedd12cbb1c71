"""Every user mistake ends in one stderr line naming the problem, a documented exit code,
and no traceback: a table of bad inputs per subcommand, run as a user runs the CLI."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_testkit import clean_env, emulator_env, run_cli
from conftest import MKV_DIR

from kvs_async.cli import main
from kvs_async.emulator import Emulator

CLUSTERS = MKV_DIR / "clusters.mkv"

# (argv, exit code, words the one stderr line must contain). Refused by argparse: run
# in-process through kvs_async.cli.main (the real entry point, without a process per case). Placeholders: {tmp} a fresh
# directory, {file} a plain file in it, {notmkv} a text file, {truncated} / {garbled} broken
# Matroska, {busy} a port in use.
PARSE_CASES: list[tuple[list[str], int, list[str]]] = [
    # top level
    ([], 2, ["required: COMMAND"]),
    (["frobnicate"], 2, ["invalid choice", "frobnicate"]),
    (["get-media", "cam", "--bogus"], 2, ["unrecognized arguments: --bogus"]),
    # get-media: every flag's invalid values
    (["get-media"], 2, ["required: STREAM"]),
    (["get-media", "cam", "--max-chunks", "-1"], 2, ["--max-chunks", ">= 1"]),
    (["get-media", "cam", "--max-chunks", "0"], 2, ["--max-chunks", ">= 1"]),
    (["get-media", "cam", "--max-chunks", "ten"], 2, ["--max-chunks", "whole number"]),
    (["get-media", "cam", "--idle-timeout", "0"], 2, ["--idle-timeout", "> 0"]),
    (["get-media", "cam", "--idle-timeout", "-3"], 2, ["--idle-timeout"]),
    (["get-media", "cam", "--idle-timeout", "nan"], 2, ["--idle-timeout"]),
    (["get-media", "cam", "--read-timeout", "-5"], 2, ["--read-timeout", "> 0"]),
    (["get-media", "cam", "--connect-timeout", "0"], 2, ["--connect-timeout"]),
    (["get-media", "cam", "--read-timeout", "inf"], 2, ["--read-timeout"]),
    (["get-media", "cam", "--start", "LATEST"], 2, ["--start", "invalid choice"]),
    (["get-media", "cam", "--timestamp", "yesterday"], 2, ["--timestamp", "ISO 8601"]),
    (["get-media", "cam", "--timestamp", "-5"], 2, ["--timestamp", ">= 0"]),
    (["get-media", "cam", "--fragment-number", "12a"], 2, ["--fragment-number"]),
    (["get-media", "cam", "--continuation-token", "a b"], 2, ["--continuation-token"]),
    (["get-media", "cam", "--output", "/nonexistent/x.mkv"], 2, ["--output", "does not exist"]),
    (["get-media", "cam", "--output", "{tmp}"], 2, ["--output", "is a directory"]),
    (["get-media", "cam", "--endpoint-url", "127.0.0.1:4567"], 2, ["http://127.0.0.1:4567"]),
    (["get-media", "cam", "--endpoint-url", "ftp://127.0.0.1"], 2, ["--endpoint-url"]),
    (["get-media", "cam", "--endpoint-url", "http://"], 2, ["--endpoint-url"]),
    (["get-media", "cam", "--endpoint-url", "http://h:1/x?y"], 2, ["without a path"]),
    (["get-media", "cam", "--region", "us west 2"], 2, ["--region", "us-west-2"]),
    (["emulator", "--region", "US_WEST"], 2, ["--region", "not a region name"]),
    # emulator
    (["emulator", "--port", "70000"], 2, ["--port", "65535"]),
    (["emulator", "--port", "-1"], 2, ["--port"]),
    (["emulator", "--port", "http"], 2, ["--port", "port number"]),
    (["emulator", "--load", "cam one={clusters}"], 2, ["--load", "no spaces"]),
    (["emulator", "--load", "cam={notmkv}"], 2, ["--load", "not a Matroska"]),
    (["emulator", "--load", "cam=/nonexistent.mkv"], 2, ["--load", "no such file"]),
    (["emulator", "--load", "cam"], 2, ["--load", "NAME=FILE.mkv"]),
    (["emulator", "--live", "cam={notmkv}"], 2, ["--live", "not a Matroska"]),
    (["emulator", "--live-speed", "0"], 2, ["--live-speed"]),
    (["emulator", "--session-duration", "-1"], 2, ["--session-duration"]),
    (["emulator", "--idle-timeout", "0"], 2, ["--idle-timeout"]),
    (["emulator", "--edge-sync-delay", "-1"], 2, ["--edge-sync-delay", ">= 0"]),
    (["emulator", "--getmedia-calls-per-second", "0"], 2, ["--getmedia-calls-per-second"]),
    # demo
    (["demo", "--fragments", "0"], 2, ["--fragments"]),
    (["demo", "--faults", "-1"], 2, ["--faults", ">= 0"]),
    (["demo", "--seed", "x"], 2, ["--seed"]),
    (["demo", "--output", "/nonexistent/x.mkv"], 2, ["--output"]),
    # global flags after the subcommand are accepted (and still refuse bad values)
    (["get-media", "cam", "-v", "--max-chunks", "0"], 2, ["--max-chunks"]),
    (["-v", "--debug", "get-media", "cam", "--json", "--max-chunks", "0"], 2, ["--max-chunks"]),
]


# Cases that get past argparse into the command's run (an event loop, a server, files):
# run as real processes.
RUN_CASES: list[tuple[list[str], int, list[str]]] = [
    (["get-media", "cam", "--start", "FRAGMENT_NUMBER"], 2, ["needs --fragment-number"]),
    (["get-media", "cam", "--start", "SERVER_TIMESTAMP"], 2, ["needs --timestamp"]),
    (["get-media", "cam", "--start", "CONTINUATION_TOKEN"], 2, ["needs --continuation-token"]),
    (["get-media", "cam", "--start", "NOW", "--fragment-number", "1"], 2, ["does not go"]),
    (["get-media", "cam one"], 2, ["not a valid stream name"]),
    (["get-media", "--arn", "cam"], 2, ["not a stream ARN"]),
    (["get-media", "cam", "--profile", "nope"], 2, ["--profile nope", "no such profile"]),
    (["emulator", "--port", "{busy}"], 1, ["already in use", "--port"]),
    (["emulator", "--host", "192.0.2.1"], 2, ["cannot listen on 192.0.2.1", "--host"]),
    (["emulator", "--data-dir", "{file}"], 2, ["--data-dir", "file exists"]),
    (["emulator", "--data-dir", "{file}/sub"], 2, ["--data-dir", "not a directory"]),
    (["emulator", "--data-dir", "/proc/kvs"], 2, ["--data-dir"]),
    (["emulator", "--load", "cam={truncated}"], 2, ["--load cam=", "not a usable Matroska"]),
    (["emulator", "--live", "cam={garbled}"], 2, ["--live cam=", "not a usable Matroska"]),
    (["emulator", "--access-key", "AKIDONLY"], 2, ["both"]),
]


@pytest.fixture
def busy_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def assert_one_line(code: int, out: str, err: str, want_code: int, words: list[str]) -> None:
    lines = err.splitlines()
    assert code == want_code, (code, err)
    assert "Traceback" not in err + out
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.fixture
def names(tmp_path: Path, busy_port: int) -> dict[str, str]:
    file = tmp_path / "plain"
    file.write_text("x")
    notmkv = tmp_path / "notes.mkv"
    notmkv.write_text("hello, this is not video\n" * 400)
    truncated = tmp_path / "truncated.mkv"
    truncated.write_bytes(CLUSTERS.read_bytes()[:3000])
    garbled = tmp_path / "garbled.mkv"
    garbled.write_bytes(b"\x1a\x45\xdf\xa3" + b"garbage" * 10)
    return {
        "tmp": str(tmp_path),
        "file": str(file),
        "notmkv": str(notmkv),
        "busy": str(busy_port),
        "clusters": str(CLUSTERS),
        "truncated": str(truncated),
        "garbled": str(garbled),
    }


def test_flags_refused_by_argparse(
    names: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    for argv, want, words in PARSE_CASES:
        code = main([a.format(**names) for a in argv])
        captured = capsys.readouterr()
        try:
            assert_one_line(
                code, captured.out, captured.err, want, [w.format(**names) for w in words]
            )
        except AssertionError as exc:
            raise AssertionError(f"kvs-async {' '.join(argv)}: {exc}") from None


async def test_bad_inputs_end_in_one_line_and_an_exit_code(
    tmp_path: Path, names: dict[str, str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home, AWS_EC2_METADATA_DISABLED="true")
    sem = asyncio.Semaphore(2)
    # Two of the parse cases as real processes too: the console entry point behaves the same.
    cases = [*RUN_CASES, PARSE_CASES[4], PARSE_CASES[-1]]

    async def one(argv: list[str]) -> tuple[int, str, str]:
        async with sem:
            return await run_cli(*(a.format(**names) for a in argv), env=env)

    results = await asyncio.gather(*(one(argv) for argv, _, _ in cases))
    for (argv, want, words), (code, out, err) in zip(cases, results, strict=True):
        try:
            assert_one_line(code, out, err, want, [w.format(**names) for w in words])
        except AssertionError as exc:
            raise AssertionError(f"kvs-async {' '.join(argv)}: {exc}") from None


async def test_runtime_failures_against_the_emulator(tmp_path: Path) -> None:
    """Missing region, credentials, stream; the wrong key pair; nothing listening."""
    home = tmp_path / "home"
    home.mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]  # closed again: nothing listens there
    async with Emulator() as emu:
        good = emulator_env(home, emu)
        no_region = {k: v for k, v in good.items() if k != "AWS_REGION"}
        no_keys = clean_env(
            home, AWS_REGION=emu.region, AWS_ENDPOINT_URL=emu.url, AWS_EC2_METADATA_DISABLED="true"
        )
        wrong = {**good, "AWS_ACCESS_KEY_ID": "AKIDSOMEONEELSE", "AWS_SECRET_ACCESS_KEY": "x"}
        bad_env_url = {**good, "AWS_ENDPOINT_URL": "127.0.0.1:4567"}
        cases = [
            (["get-media", "cam"], no_region, 2, ["--region", "AWS_REGION"]),
            (["get-media", "cam"], no_keys, 2, ["no AWS credentials", "kvs-async emulator"]),
            (["get-media", "cam"], wrong, 1, ["UnrecognizedClientException", "kvs-async emulator"]),
            (["get-media", "nope"], good, 1, ["ResourceNotFoundException", "stream name"]),
            (["get-media", "cam"], bad_env_url, 2, ["AWS_ENDPOINT_URL", "http://"]),
            (
                ["get-media", "cam", "--endpoint-url", f"http://127.0.0.1:{dead}"],
                good,
                1,
                [f"connection refused at http://127.0.0.1:{dead}", "emulator"],
            ),
        ]
        results = await asyncio.gather(*(run_cli(*argv, env=env) for argv, env, _, _ in cases))
    for (argv, _, want, words), (code, out, err) in zip(cases, results, strict=True):
        try:
            assert_one_line(code, out, err, want, words)
        except AssertionError as exc:
            raise AssertionError(f"kvs-async {' '.join(argv)}: {exc}") from None
    missing = results[3][2]
    assert missing.count("ResourceNotFoundException") == 1  # not "X: X: ..."


async def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    env = clean_env(
        tmp_path, AWS_REGION="us-west-2", AWS_ACCESS_KEY_ID="a", AWS_SECRET_ACCESS_KEY="b"
    )
    code, _, err = await run_cli(
        "get-media", "cam", "--endpoint-url", f"http://127.0.0.1:{dead}", "--debug", env=env
    )
    assert code == 1
    assert "Traceback" in err
    assert err.splitlines()[-1].startswith("kvs-async get-media: connection refused")
