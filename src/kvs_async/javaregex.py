"""Java regular expressions (the dialect of AWS's ``pattern`` traits) for the ``regex`` package.

AWS services check ``pattern`` with ``java.util.regex``. The ``regex`` package (VERSION1)
already speaks most of that dialect: Unicode properties (``\\p{M}``, ``\\P{C}``), possessive
quantifiers, nested classes and ``&&`` intersections, scoped inline flags. ``java_to_regex``
rewrites only what reads differently in Java:

- ``\\d \\w \\s`` (and negations) are ASCII in Java, Unicode in ``regex``;
- POSIX names (``\\p{Alpha}``, ``\\p{Graph}``, ``\\p{Punct}`` ...) are ASCII in Java;
- ``.`` also stops at ``\\r``, ``\\u0085``, ``\\u2028``, ``\\u2029``; ``\\h``, ``\\v``, ``\\R``, ``\\Z``;
- ``\\x{...}``, ``\\0oct``, ``\\e``, ``\\cX``, ``\\Q...\\E``, ``\\p{all}``, ``\\p{javaXxx}``;
- a surrogate pair of ``\\uXXXX`` escapes is one code point (``\\uD800\\uDC00-\\uDBFF\\uDFFF``);
- in a class, ``-`` next to a class escape is literal (``[\\w-.]``) and ``|``/``~`` are literal;
- a quantifier right after a quantifier repeats an empty atom (``X{11}{0,1011}`` is ``X{11}``).

Anything else is left to ``regex``; what it still refuses raises ``JavaPatternError``.
"""

from __future__ import annotations

import functools

import regex

FLAGS = regex.VERSION1

_ASCII = {
    "d": "0-9",
    "w": "a-zA-Z0-9_",
    "s": " \\t\\n\\x0B\\f\\r",
    "h": " \\t\\xA0\\u1680\\u180E\\u2000-\\u200A\\u202F\\u205F\\u3000",
    "v": "\\n\\x0B\\f\\r\\x85\\u2028\\u2029",
}
_POSIX = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7F",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1F\\x7F",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0B\\f\\r",
    "all": "\\x00-\\U0010ffff",
    "javaLowerCase": "\\p{Lowercase}",
    "javaUpperCase": "\\p{Uppercase}",
    "javaAlphabetic": "\\p{Alphabetic}",
    "javaLetter": "\\p{L}",
    "javaDigit": "\\p{Nd}",
    "javaLetterOrDigit": "\\p{L}\\p{Nd}",
    "javaWhitespace": "\\t\\n\\x0B\\f\\r\\x1C-\\x1F\\p{Zs}\\p{Zl}\\p{Zp}--\\xA0\\u2007\\u202F",
    "javaSpaceChar": "\\p{Z}",
    "javaISOControl": "\\x00-\\x1F\\x7F-\\x9F",
    "javaTitleCase": "\\p{Lt}",
    "javaDefined": "\\P{Cn}",
    "javaMirrored": "\\p{Bidi_Mirrored}",
    "javaIdeographic": "\\p{Ideographic}",
    "IsWhitespace": "\\p{White_Space}",
    "IsWhite_Space": "\\p{White_Space}",
}
_DOT = "[^\\n\\r\\x85\\u2028\\u2029]"
_LINEBREAK = "(?:\\r\\n|[\\n\\x0B\\f\\r\\x85\\u2028\\u2029])"
_JAVA_Z = "(?=(?:\\r\\n|[\\n\\r\\x85\\u2028\\u2029])?\\Z)"


class JavaPatternError(ValueError):
    """A Java pattern this translation (or the ``regex`` package) cannot express."""


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.p = pattern
        self.i = 0
        self.out: list[str] = []
        self.dotall = [False]  # per group depth: Java's inline (?s) is scoped to its group

    def error(self, what: str) -> JavaPatternError:
        return JavaPatternError(f"{what} at position {self.i} of {self.p!r}")

    def peek(self, n: int = 0) -> str:
        j = self.i + n
        return self.p[j] if j < len(self.p) else ""

    # -- escapes -------------------------------------------------------------------------------
    def hex_escape(self) -> int:
        """At ``\\u`` or ``\\x``: the code point (surrogate pairs joined), cursor advanced."""
        kind = self.peek(1)
        if kind == "x" and self.peek(2) == "{":
            end = self.p.find("}", self.i)
            if end < 0:
                raise self.error("unterminated \\x{")
            cp = int(self.p[self.i + 3 : end], 16)
            self.i = end + 1
            return cp
        width = 4 if kind == "u" else 2
        digits = self.p[self.i + 2 : self.i + 2 + width]
        if len(digits) != width or any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise self.error(f"bad \\{kind} escape")
        cp = int(digits, 16)
        self.i += 2 + width
        if 0xD800 <= cp <= 0xDBFF and self.p[self.i : self.i + 2] == "\\u":
            low = self.p[self.i + 2 : self.i + 6]
            if len(low) == 4 and all(c in "0123456789abcdefABCDEF" for c in low):
                lo = int(low, 16)
                if 0xDC00 <= lo <= 0xDFFF:
                    self.i += 6
                    return 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
        return cp

    def property(self) -> tuple[str, bool]:
        """At ``\\p``/``\\P``: (class text usable inside a set, negated)."""
        negated = self.peek(1) == "P"
        if self.peek(2) == "{":
            end = self.p.find("}", self.i)
            if end < 0:
                raise self.error("unterminated \\p{")
            name = self.p[self.i + 3 : end]
            self.i = end + 1
        else:
            name = self.peek(2)
            self.i += 3
        if name in _POSIX:
            return _POSIX[name], negated
        if name.startswith("In") and len(name) > 2:
            return f"\\p{{Block={name[2:]}}}", negated
        if name.startswith("Is") and len(name) > 2:
            name = name[2:]
        return f"\\p{{{name}}}", negated

    def escape(self, in_class: bool) -> tuple[str, bool]:
        """One escape; returns (text, is_single_char). Class escapes come back as a nested set."""
        c = self.peek(1)
        if not c:
            raise self.error("trailing backslash")
        if c in "uxU" and c != "U":
            return _literal(self.hex_escape()), True
        if c in "pP":
            body, negated = self.property()
            return _set(body, negated, in_class), False
        if c.lower() in _ASCII:
            self.i += 2
            return _set(_ASCII[c.lower()], c.isupper(), in_class), False
        self.i += 2
        if c == "0":
            digits = ""
            while len(digits) < 3 and self.peek() in "01234567" and self.peek():
                if len(digits) == 2 and int(digits[0]) > 3:
                    break
                digits += self.peek()
                self.i += 1
            if not digits:
                raise self.error("bad octal escape")
            return _literal(int(digits, 8)), True
        if c == "e":
            return "\\x1B", True
        if c == "a":
            return "\\x07", True
        if c == "c":
            ctl = self.peek()
            self.i += 1
            return _literal(ord(ctl) ^ 64), True
        if c == "Q":
            end = self.p.find("\\E", self.i)
            end = len(self.p) if end < 0 else end
            quoted = self.p[self.i : end]
            self.i = min(len(self.p), end + 2)
            return "".join(_literal(ord(ch)) for ch in quoted), len(quoted) == 1
        if in_class:
            if c in "tnrf":
                return "\\" + c, True
            if c.isalnum():
                raise self.error(f"escape \\{c} in a character class")
            return _literal(ord(c)), True
        if c == "z":
            return "\\Z", False
        if c == "Z":
            return _JAVA_Z, False
        if c == "R":
            return _LINEBREAK, False
        if c in "AbBGXtnrfk" or c.isdigit():
            return "\\" + c, c in "tnrf"
        if c.isalnum():
            raise self.error(f"unknown escape \\{c}")
        return _literal(ord(c)), True

    # -- classes -------------------------------------------------------------------------------
    def klass(self) -> str:
        """At ``[``: the whole (possibly nested) class, rewritten."""
        self.i += 1
        out = ["["]
        if self.peek() == "^":
            out.append("^")
            self.i += 1
        first = True
        prev_single: str | None = None  # the previous item, if it can start a range
        while True:
            c = self.peek()
            if not c:
                raise self.error("unclosed character class")
            if c == "]" and not first:
                self.i += 1
                break
            first = False
            if c == "[":
                out.append(self.klass())
                prev_single = None
                continue
            if c == "&" and self.peek(1) == "&":
                out.append("&&")
                self.i += 2
                prev_single = None
                continue
            if c == "\\":
                text, single = self.escape(in_class=True)
                item = text
            else:
                self.i += 1
                single = True
                item = _literal(ord(c)) if c in "|~-&[]^\\" else c
            if (
                c == "-"
                and prev_single is not None
                and self.peek() not in ("]", "")
                and not (self.peek() == "[" or (self.peek() == "&" and self.peek(1) == "&"))
            ):
                # a range: previous single char to the next single char
                nxt = self.peek()
                if nxt == "\\":
                    text, single = self.escape(in_class=True)
                    if not single:
                        raise self.error("range ends in a class")
                    hi = text
                else:
                    self.i += 1
                    hi = _literal(ord(nxt)) if nxt in "|~-&^\\" else nxt
                out.append("-" + hi)
                prev_single = None
                continue
            out.append(item)
            prev_single = item if single else None
        out.append("]")
        return "".join(out)

    # -- the whole pattern -----------------------------------------------------------------------
    def translate(self) -> str:
        quantified = False  # the last token was a quantifier (with its lazy/possessive suffix)
        while self.i < len(self.p):
            c = self.peek()
            if c in "*+?" or (c == "{" and _quantifier_end(self.p, self.i) is not None):
                end = self.i + 1 if c != "{" else _quantifier_end(self.p, self.i)
                assert end is not None
                if end < len(self.p) and self.p[end] in "?+":
                    end += 1
                if quantified and c == "{":
                    self.i = end  # Java: a repeated empty atom
                    continue
                if quantified:
                    raise self.error(f"dangling {c!r}")
                self.out.append(self.p[self.i : end])
                self.i = end
                quantified = True
                continue
            quantified = False
            if c == "\\":
                self.out.append(self.escape(in_class=False)[0])
            elif c == "[":
                self.out.append(self.klass())
            elif c == ".":
                self.out.append("." if self.dotall[-1] else _DOT)
                self.i += 1
            elif c == "(":
                self.group()
            elif c == ")":
                if len(self.dotall) > 1:
                    self.dotall.pop()
                self.out.append(")")
                self.i += 1
                quantified = False
            else:
                self.out.append(c)
                self.i += 1
        return "".join(self.out)

    def group(self) -> None:
        """At ``(``: copy the opener; track ``(?s)``/``(?-s)`` for ``.``."""
        inherited = self.dotall[-1]
        if self.peek(1) == "?" and self.peek(2) not in ":=!<>" and self.peek(2):
            j = self.i + 2
            while j < len(self.p) and self.p[j] not in ":)":
                j += 1
            flags = self.p[self.i + 2 : j]
            on, _, off = flags.partition("-")
            state = inherited
            if "s" in on:
                state = True
            if "s" in off:
                state = False
            if j < len(self.p) and self.p[j] == ")":
                self.dotall[-1] = state  # (?s) applies to the rest of the enclosing group
                self.out.append(self.p[self.i : j + 1])
                self.i = j + 1
                return
            self.dotall.append(state)
            self.out.append(self.p[self.i : j + 1])
            self.i = j + 1
            return
        self.dotall.append(inherited)
        self.out.append("(")
        self.i += 1


def _quantifier_end(p: str, i: int) -> int | None:
    """End of a ``{n}``/``{n,}``/``{n,m}`` quantifier starting at ``i`` (None: a literal ``{``)."""
    j = i + 1
    seen_digit = False
    while j < len(p) and p[j].isdigit():
        j += 1
        seen_digit = True
    if not seen_digit:
        return None
    if j < len(p) and p[j] == ",":
        j += 1
        while j < len(p) and p[j].isdigit():
            j += 1
    return j + 1 if j < len(p) and p[j] == "}" else None


def _set(body: str, negated: bool, in_class: bool) -> str:
    """A class escape's set; spliced into an enclosing class unless it must nest."""
    if negated:
        return "[^" + body + "]"
    if in_class and "--" not in body:
        return body
    return "[" + body + "]"


def _literal(cp: int) -> str:
    ch = chr(cp)
    if ch.isalnum() and cp < 128:
        return ch
    if cp > 0xFFFF:
        return f"\\U{cp:08x}"
    return f"\\u{cp:04x}" if cp > 0xFF else f"\\x{cp:02x}"


def java_to_regex(pattern: str) -> str:
    """The ``regex`` (VERSION1) source that matches what the Java pattern matches."""
    return _Translator(pattern).translate()


@functools.lru_cache(maxsize=4096)
def compile_java(pattern: str) -> regex.Pattern[str]:
    """Compile a Java pattern (cached); ``JavaPatternError`` when it cannot be expressed."""
    source = java_to_regex(pattern)
    try:
        return regex.compile(source, FLAGS)
    except (regex.error, OverflowError, ValueError) as exc:
        raise JavaPatternError(f"{pattern!r} does not compile: {exc}") from None
