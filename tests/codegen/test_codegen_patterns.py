"""Model ``pattern`` traits read with Java's semantics (kvs_async.javaregex).

The table holds hand-checked java.util.regex results (``Pattern.matches`` semantics: the
whole value) for the constructs AWS models use that Python reads differently; the
corpus tests translate every pattern of the installed botocore's rest-json and json models.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import botocore  # type: ignore[import-untyped]
import pytest
from codegen_helpers import pattern_strategy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvs_async.javaregex import JavaPatternError, compile_java, java_to_regex

# (Java pattern, value, Pattern.matches(pattern, value) in Java)
JAVA_CASES: list[tuple[str, str, bool]] = [
    # POSIX names are US-ASCII in Java (iot: [\p{Graph}\x20]*)
    (r"[\p{Graph}\x20]*", "abc def!~", True),
    (r"[\p{Graph}\x20]*", "caf\u00e9", False),
    (r"\p{Alpha}+", "\u00e9", False),
    (r"\p{Punct}", "!", True),
    (r"\p{Punct}", "\u00a1", False),
    (r"\p{XDigit}+", "09afAF", True),
    (r"\p{Print}+", "a b", True),
    (r"\p{Print}+", "a\tb", False),
    # Unicode categories
    (r"[\p{L}\p{M}]+", "e\u0301", True),
    (r"\p{L}+", "e\u0301", False),
    (r"\P{C}+", "abc \u00e9", True),
    (r"\P{C}+", "a\x00", False),
    (r"\P{M}", "\u0301", False),
    (r"\p{IsAlphabetic}+", "\u00e9\u4e00", True),
    (r"\p{InGreek}+", "\u03b1\u03b2", True),
    (r"\p{InGreek}+", "a", False),
    (r"[\p{all}]*", "a\nb\u0000", True),
    # \d \w \s are ASCII in Java
    (r"\d+", "\u0661\u0662", False),
    (r"\w+", "\u00e9", False),
    (r"\w+", "a_9", True),
    (r"\s", "\u00a0", False),
    (r"\s", "\x0b", True),
    (r"[^\s]+", "\u00a0", True),
    (r"\S+", "\u2003", True),
    (r"a\hb", "a\u00a0b", True),
    (r"a\vb", "a\u2028b", True),
    # '-' next to a class escape is literal (and a property then '-' then a char too: billing)
    (r"[\w-.]+", "a-b.c", True),
    (r"[\w-.]+", "a,b", False),
    (r"[\p{L}\p{N}\p{Z}-_]+", "a b-_", True),
    (r"[\p{L}\p{N}\p{Z}-_]+", "a^", False),
    (r"[a\-z]+", "-", True),
    (r"[a-]+", "a-", True),
    # escapes
    (r"a\x{0022}b", 'a"b', True),
    (r"\x{1F600}", "\U0001f600", True),
    (r"\u0041", "A", True),
    (r"\0101", "A", True),
    (r"\e", "\x1b", True),
    (r"\cA", "\x01", True),
    (r"\Qa.b\E", "a.b", True),
    (r"\Qa.b\E", "axb", False),
    (r"\Qa.b", "a.b", True),
    # surrogate pairs are one code point (appflow, glue)
    (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", "ok \U0001f600", True),
    (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", "\x01", False),
    (r"[\u0020-\uD7FF]+", "\U0001f600", False),
    (r"\uD83D\uDE00", "\U0001f600", True),
    # anchors: \z \Z, and a quantified $ (chime-sdk-voice: "...${2,64}" is a repeated Dollar)
    (r"abc\z", "abc", True),
    (r"abc\Z", "abc", True),
    (r"\Aabc", "abc", True),
    (r"[a-z]+${2,64}", "abc", True),
    (r"^[A-Z]${2,64}", "AB", False),
    (r"a$?b", "ab", True),
    # a quantifier after a quantifier repeats an empty atom (rbin: [0-9a-zA-Z]{11}{0,1011})
    (r"[0-9a-zA-Z]{11}{0,1011}", "a" * 11, True),
    (r"[0-9a-zA-Z]{11}{0,1011}", "a" * 12, False),
    # possessive quantifiers never give back
    (r"a*+a", "aaa", False),
    (r"a*+b", "aab", True),
    (r"(?:ab)++c", "ababc", True),
    (r"[a-z]?+[a-z]", "a", False),
    # . stops at every Java line terminator unless (?s)
    (r"a.b", "a\rb", False),
    (r"a.b", "a\u2028b", False),
    (r"a.b", "a\u00e9b", True),
    (r"(?s)a.b", "a\nb", True),
    (r"(?s:a.)b.", "a\nb\n", False),
    # class set operations and nesting
    (r"[a-z&&[^aeiou]]+", "bcd", True),
    (r"[a-z&&[^aeiou]]+", "bad", False),
    (r"[a-d[m-p]]+", "amp", True),
    (r"[a-d[m-p]]+", "e", False),
    (r"[|~]+", "|~", True),
    (r"[a-c--]+", "a-", True),
    # dangling ] and } are literals in Java
    (r"a]", "a]", True),
    (r"a}", "a}", True),
    (r"a{b", "a{b", True),
    # lookarounds and groups pass through
    (r"(?!aws:)[a-z:]+", "aws:x", False),
    (r"(?!aws:)[a-z:]+", "awx:x", True),
    (r"(?i)abc", "ABC", True),
]


@pytest.mark.parametrize(("pattern", "value", "java"), JAVA_CASES)
def test_java_semantics(pattern: str, value: str, java: bool) -> None:
    got = compile_java(pattern).fullmatch(value) is not None
    assert got is java, f"{pattern!r} on {value!r}: translated to {java_to_regex(pattern)!r}"


def test_untranslatable_pattern_raises_named_error() -> None:
    with pytest.raises(JavaPatternError, match="unclosed character class"):
        compile_java("[abc")
    with pytest.raises(JavaPatternError, match="unknown escape"):
        compile_java(r"\j")


def _corpus_patterns() -> list[str]:
    data = Path(botocore.__file__).parent / "data"
    found: set[str] = set()
    for service in sorted(p for p in data.iterdir() if p.is_dir()):
        versions = sorted(p for p in service.iterdir() if p.is_dir())
        model = versions[-1] / "service-2.json.gz" if versions else None
        if model is None or not model.exists():
            continue
        raw = json.loads(gzip.decompress(model.read_bytes()))
        if raw["metadata"].get("protocol") not in ("rest-json", "json"):
            continue
        found.update(s["pattern"] for s in raw["shapes"].values() if "pattern" in s)
    return sorted(found)


CORPUS = _corpus_patterns()
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")


def test_every_corpus_pattern_translates() -> None:
    failures = []
    for pattern in CORPUS:
        try:
            compile_java(pattern)
        except JavaPatternError as exc:
            failures.append(str(exc))
    print(f"patterns: {len(CORPUS)} in the corpus, {len(failures)} not expressible")
    assert not failures


# A fixed sample (every 40th pattern) keeps this under a few seconds.
SAMPLE = CORPUS[::40]


@pytest.mark.parametrize("pattern", SAMPLE)
def test_drawn_strings_match(pattern: str) -> None:
    compiled = compile_java(pattern)

    @settings(
        max_examples=8,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(value=pattern_strategy(pattern) | st.just(None))
    def check(value: str | None) -> None:
        if value is not None:
            assert compiled.fullmatch(value) is not None

    check()
