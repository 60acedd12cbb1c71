"""Developer and CI entry points: `nox` runs every check, `nox -s bench` the benchmarks."""

from __future__ import annotations

import nox

nox.options.sessions = ["codegen", "lint", "typecheck", "tests", "mkv_compiled"]
nox.options.error_on_missing_interpreters = True

TEST_DEPS = ".[test]"


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, conformance suites included."""
    session.install("-e", TEST_DEPS)
    session.run("pytest", *session.posargs)


@nox.session
def mkv_compiled(session: nox.Session) -> None:
    """The mkv suite against the mypyc-compiled parser (`tests` runs it on the pure source).

    A regular (non-editable) install compiles kvs_async.mkv; the run fails if it did not.
    """
    session.install(".", "pytest>=8", "pytest-asyncio>=0.23", "hypothesis>=6.100")
    session.run(
        "pytest", "-p", "no:cacheprovider", "tests/mkv", env={"KVS_ASYNC_EXPECT_COMPILED": "1"}
    )


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
    # A regular install: kvs_async.mkv compiled by mypyc, as users get it (bench_mkv also runs
    # the pure source of the same install, KVS_ASYNC_PURE=1, beside it).
    session.install(".[test,bench]")
    session.run("python", "-m", "bench", *session.posargs)
