"""The command group itself: every registered command loads and explains itself."""
from __future__ import annotations

import warnings

import pytest
from click.testing import CliRunner

from personagraph import __version__
from personagraph.cli.main import COMMANDS, cli


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and name in result.output


def test_group_lists_all_commands_and_version():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert all(name in result.output for name in COMMANDS)
    assert __version__ in CliRunner().invoke(cli, ["--version"]).output


def test_unknown_command_is_a_usage_error():
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2 and "No such command" in result.output


@pytest.mark.parametrize("name", ["explain", "recommend", "audience", "update", "profile"])
def test_every_command_that_reads_a_run_takes_run(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0 and "--run" in result.output


def test_the_torch_jit_deprecation_of_an_import_is_silenced_and_nothing_else():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert CliRunner().invoke(cli, ["segments", "--help"]).exit_code == 0
        message = "`torch.jit.script` is deprecated. Please switch to `torch.compile` or `torch.export`."
        warnings.warn_explicit(message, FutureWarning, "_script.py", 1491, module="torch.jit._script")
        warnings.warn_explicit(message, FutureWarning, "ours.py", 1, module="personagraph.ours")
        warnings.warn_explicit("something else", FutureWarning, "_script.py", 1, module="torch.jit._script")
    assert [(str(w.message), w.filename) for w in caught] == [(message, "ours.py"), ("something else", "_script.py")]


@pytest.mark.parametrize("command", ["train", "sync"])
def test_help_states_the_size_from_which_auto_bulk_imports(command):
    from personagraph.store.bulk_import import AUTO_BULK_MIN_USERS

    result = CliRunner().invoke(cli, [command, "--help"], terminal_width=200)
    assert f"{AUTO_BULK_MIN_USERS:,} users" in " ".join(result.output.split())
