"""Every registered subcommand follows the table's contract and answers --help."""

from __future__ import annotations

import inspect

import pytest

from kvs_async.cli import COMMANDS, main
from kvs_async.cli.shell import load_command


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_the_module_contract(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    command = load_command(COMMANDS[name])
    assert isinstance(command.HELP, str) and command.HELP
    assert callable(command.add_arguments)
    assert inspect.iscoroutinefunction(command.run)
    assert main([name, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: kvs-async {name}")
    assert "--debug" in out and "--json" in out  # the global flags, after the name too


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMMANDS)
    assert "130" in out and "143" in out  # the exit codes are documented
