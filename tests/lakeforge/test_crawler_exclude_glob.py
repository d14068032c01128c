"""Exclude patterns follow Glue's glob rules (Java's glob syntax), checked on paths alone."""

from __future__ import annotations

import pytest

from lakeforge.crawler.listing import glob_to_regex
from lakeforge.errors import ConfigError


@pytest.mark.parametrize(("pattern", "path", "matches"), [
    # Glue's documented examples
    ("*.csv", "a.csv", True),
    ("*.csv", "sub/a.csv", False),             # * never crosses a folder
    ("*.*", "a.b", True),
    ("*.*", "ab", False),
    ("*.{csv,avro}", "x.avro", True),
    ("*.{csv,avro}", "x.json", False),
    ("foo.?", "foo.c", True),
    ("foo.?", "foo.cc", False),
    ("myfolder/*", "myfolder/mysource", True),
    ("myfolder/*", "myfolder/mysource/data", False),
    ("myfolder/*/*", "myfolder/mysource/data", True),
    ("myfolder/**", "myfolder/mysource/mydata", True),
    ("myfolder**", "myfolder/mydata.txt", True),
    ("2015/0[2-9]/**", "2015/03/01/a.csv", True),
    ("2015/0[2-9]/**", "2015/01/01/a.csv", False),
    # ** crosses folders; **/ needs at least one folder
    ("**.json", "a.json", True),
    ("**.json", "dt=1/x/a.json", True),
    ("**/*.json", "dt=1/a.json", True),
    ("**/*.json", "a.json", False),
    # ? and [] stay in one path component
    ("a?b", "a/b", False),
    ("a[!x]b", "a/b", False),
    ("[!a-c]*", "d.csv", True),
    ("[!a-c]*", "b.csv", False),
    ("[-a]", "-", True),
    ("[^x]", "^", True),                       # only ! negates, as in Java
    ("[*?\\]", "?", True),                     # *, ? and \ match themselves inside []
    # braces: alternatives may hold / and wildcards; , and } outside a group are literal
    ("{raw,tmp/**}/x", "tmp/a/b/x", True),
    ("{a,b}", "c", False),
    ("x,y", "x,y", True),
    ("a}b", "a}b", True),
    # escapes and regex characters are literal
    ("a\\*b", "a*b", True),
    ("a\\*b", "axb", False),
    ("a.c", "abc", False),
    ("(x)+|y", "(x)+|y", True),
    # leading dots are ordinary characters (Glue: * matches .hidden)
    ("*", ".hidden", True),
    ("", "", True),
])
def test_glob_to_regex_follows_glue_glob_rules(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_to_regex(pattern).fullmatch(path)) is matches


@pytest.mark.parametrize(("pattern", "why"), [
    ("*.{json,txt", "'{' without its '}'"),
    ("{a,{b,c}}", "groups {...} cannot be nested"),
    ("[abc", "'[' without its ']'"),
    ("[]", "empty bracket expression []"),
    ("[a/b]", "a bracket expression may not hold '/'"),
    ("[z-a]", "not a valid bracket expression (bad character range z-a)"),
    ("x\\", "nothing to escape after the final \\"),
])
def test_malformed_glob_is_a_one_line_config_error(pattern: str, why: str) -> None:
    with pytest.raises(ConfigError) as info:
        glob_to_regex(pattern)
    message = str(info.value)
    assert message.startswith(f"exclude pattern {pattern!r}: {why} (Glue glob syntax")
    assert "\n" not in message
