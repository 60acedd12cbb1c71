"""Developer and CI entry points: `nox` runs every check, `nox -s bench` the benchmarks."""

from __future__ import annotations

import nox

nox.options.sessions = ["codegen", "lint", "typecheck", "tests"]
nox.options.error_on_missing_interpreters = True

TEST_DEPS = ".[test]"


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, conformance suites included."""
    session.install("-e", TEST_DEPS)
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff==0.17.6")
    session.run("ruff", "check", "src", "codegen", "tests", "bench", "noxfile.py")
    session.run("ruff", "format", "--check", "src", "codegen", "tests", "bench", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the runtime, the generated bindings and the generator."""
    session.install("-e", TEST_DEPS)
    session.run("mypy", "--strict", "src", "codegen")


@nox.session
def codegen(session: nox.Session) -> None:
    """Fail when the committed bindings differ from a fresh generation."""
    session.install("-e", ".", "ruff==0.17.6")
    session.run("python", "-m", "codegen", "--check")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks with their anchors (aiobotocore, ebmlite), measured in the same run."""
    session.install("-e", ".[test,bench]")
    session.run("python", "-m", "bench", *session.posargs)
