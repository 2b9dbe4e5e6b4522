"""The compiled number scanner agrees with Python's ``float`` and the accepted-token regex.

Tokens are placed both well inside the buffer (the branch-free word paths read 17 bytes
ahead) and at its very end (the per-character path), with every kind of blank between them.
"""

import numpy as np
import pytest

from data_processing import bvh, number_scan
from data_processing.bvh import read_bvh
from tests.conftest import TINY_BVH

PADDING = b" " * (2 * number_scan.WINDOW)
"""Blanks after a token that keep it on the word paths."""
BAD_TOKENS = [b"1.2.3", b"abc", b"1e", b"1e+", b"--1", b"+-1", b".", b"-", b"+", b"-.", b"1,5",
              b"\x00", b"1\x00", b"0x10", b"nan", b"inf", b"1_0", b"\xd9\xa3", b"1.5e3.2",
              b"12345678.9.1", b"1.23456789x", b"e5", b".e5", b"5e", b"1.0-", b"7+"]


def scan(text: bytes, capacity: int | None = None):
    """``(values, status, line, per_line)`` of :func:`number_scan.scan_numbers` on ``text``."""
    out = np.zeros(len(text) if capacity is None else capacity)
    count, status, line, per_line = number_scan.scan_numbers(np.frombuffer(text, np.uint8), out)
    assert len(per_line) == line + 1
    return out[:count], status, line, per_line


def _digits(rng, low: int, high: int) -> str:
    return "".join(map(str, rng.integers(0, 10, size=int(rng.integers(low, high + 1)))))


def random_decimal(rng, long: bool = False) -> bytes:
    """A decimal token: optional sign, digits, optional point and fraction, optional exponent.

    Short ones (at most 7 + 7 digits, exponent at most 15) are all on the exact fast path.
    """
    most = 25 if long else 7
    sign = rng.choice(["", "-", "+"], p=[0.5, 0.4, 0.1])
    whole = _digits(rng, 0, most)
    fraction = "." + _digits(rng, 0, most) if rng.random() < 0.8 else ""
    if not (whole + fraction).strip("."):
        whole = _digits(rng, 1, 3)
    exponent = ""
    if rng.random() < (0.3 if long else 0.1):
        exponent = (rng.choice(["e", "E"]) + rng.choice(["", "-", "+"])
                    + str(int(rng.integers(0, 40 if long else 16))))
    return f"{sign}{whole}{fraction}{exponent}".encode()


def random_blank(rng) -> bytes:
    return [b" ", b"  ", b"\t", b" \t ", b"\n", b"\r\n", b" \n\n"][int(rng.integers(7))]


def joined(tokens, rng) -> bytes:
    return b"".join(t + random_blank(rng) for t in tokens)


def exact_or_flagged(values: np.ndarray, status: int, tokens) -> None:
    """Every value equals ``float`` of its token (a zero with its sign), or is 0 (INEXACT)."""
    expected = np.array([float(t) for t in tokens])
    wrong = values != expected
    assert not wrong.any() or status == number_scan.INEXACT
    assert (values[wrong] == 0.0).all()
    if status == number_scan.OK:
        assert np.array_equal(np.signbit(values), np.signbit(expected))


@pytest.mark.parametrize("long", [False, True], ids=["short", "long"])
def test_random_decimals_equal_float(long):
    rng = np.random.default_rng(17 + long)
    tokens = [random_decimal(rng, long) for _ in range(5000)]
    values, status, _, _ = scan(joined(tokens, rng))
    assert len(values) == len(tokens)
    exact_or_flagged(values, status, tokens)
    if not long:
        assert status == number_scan.OK


def test_every_token_alone_inside_and_at_the_end():
    rng = np.random.default_rng(5)
    for token in [random_decimal(rng, long=bool(i % 2)) for i in range(1500)]:
        for text in (token + PADDING + b"\n", token, b"0 " + token):
            values, status, _, _ = scan(text)
            exact_or_flagged(values[-1:], status, [token])


def test_inexact_numbers_are_flagged_and_zeroed():
    tokens = [b"9" * 30, b"12345678901234567890", b"1e23", b"1e-23", b"9007199254740993",
              b"1e400", b"1e5000000000", b"0." + b"0" * 30 + b"1"]
    for token in tokens:
        for text in (token + PADDING, token):
            values, status, _, _ = scan(b"1.5 " + text)
            assert status == number_scan.INEXACT
            assert values.tolist() == [1.5, 0.0]


@pytest.mark.parametrize("token", [b"0", b"-0", b"-0.0", b"+0.", b"-.0", b"0e0", b"-0e-5"])
def test_signed_zeros(token):
    for text in (token + PADDING, token):
        values, status, _, _ = scan(text)
        assert status == number_scan.OK
        assert values[0] == 0.0
        assert np.signbit(values[0]) == np.signbit(float(token))


def test_number_forms_at_both_paths():
    forms = [b".5", b"5.", b"+3", b"-7", b"1e3", b"1E+3", b"-2.5e-3", b"12345678", b"1234567.8",
             b"-1234.567", b"1234567.1234567", b"-1234567.1234567", b"+.1234567", b"0.000001",
             b"123456789012345", b"4503599627370496.5", b"1.7976931348623157e308"]
    for token in forms:
        for text in (token + PADDING, token, token + b"\r\n"):
            values, status, _, _ = scan(text)
            exact_or_flagged(values, status, [token])


def test_random_characters_agree_with_the_regex():
    """Tokens over digits, signs, points and exponent letters: accepted iff the regex says so."""
    rng = np.random.default_rng(3)
    alphabet = np.frombuffer(b"0123456789.+-eE", np.uint8)
    for _ in range(3000):
        token = alphabet[rng.integers(len(alphabet), size=int(rng.integers(1, 14)))].tobytes()
        accepted = number_scan.DECIMAL.fullmatch(token) is not None
        for text in (b"1 2\n3 " + token + PADDING, b"1 2\n3 " + token):
            values, status, line, _ = scan(text)
            assert (status != number_scan.SYNTAX_ERROR) == accepted, token
            if accepted:
                exact_or_flagged(values, status, [b"1", b"2", b"3", token])
            else:
                assert line == 1


@pytest.mark.parametrize("bad", BAD_TOKENS)
def test_bad_token_reports_its_line(bad):
    rng = np.random.default_rng(len(bad))
    lines = [b" ".join(random_decimal(rng) for _ in range(int(rng.integers(0, 9))))
             for _ in range(40)]
    for line in (0, 17, 39):
        for padding in (PADDING, b""):
            text = lines.copy()
            text[line] = text[line] + b" " + bad + (padding if line == 39 else b"")
            _, status, found, _ = scan(b"\n".join(text))
            assert (status, found) == (number_scan.SYNTAX_ERROR, line)
            assert number_scan.bad_token(text[line]) == bad.decode(errors="replace")


def test_counts_per_line_with_any_line_end():
    rng = np.random.default_rng(11)
    lines = [[random_decimal(rng) for _ in range(int(rng.integers(0, 12)))]
             for _ in range(3 * number_scan.LINES_AT_FIRST)]  # the count per line grows twice
    ends = [b"\n", b"\r\n", b" \n", b"\t\r\n"]
    text = b"".join(b" ".join(line) + ends[int(rng.integers(4))] for line in lines)
    for body in (text, text.rstrip()):  # with and without a line end after the last number
        values, status, last, per_line = scan(body)
        assert status == number_scan.OK
        assert per_line.tolist() == [len(line.split()) for line in body.split(b"\n")]
        assert last == body.count(b"\n")
        exact_or_flagged(values, status, body.split())


def test_count_goes_on_beyond_the_output():
    text = b"1 2 3 4 5 6 7 8 9 10" + PADDING
    values, status, _, per_line = scan(text, capacity=4)
    assert status == number_scan.OK
    assert values.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert per_line.tolist() == [10]


def test_empty_and_blank_buffers():
    for text in (b"", b" ", b"\n", b"\r\n\t \n", PADDING):
        values, status, last, per_line = scan(text)
        assert (len(values), status, last) == (0, number_scan.OK, text.count(b"\n"))
        assert not per_line.any()


def test_read_bvh_converts_inexact_blocks_with_float(tmp_path):
    rng = np.random.default_rng(2)
    header = TINY_BVH[: TINY_BVH.index("1.0 90.0")]
    rows = [[f"{v:.{p}f}".encode() for v, p in zip(rng.normal(scale=100, size=12),
                                                   rng.integers(0, 30, size=12))]
            for _ in range(3)]
    rows[1][4] = b"1" + b"0" * 20 + b"e-20"
    path = tmp_path / "x.bvh"
    path.write_bytes(header.encode() + b"\n".join(b" ".join(r) for r in rows) + b"\n")
    expected = np.array([[float(t) for t in r] for r in rows])
    _, status, _, _ = scan(b" ".join(t for r in rows for t in r))
    assert status == number_scan.INEXACT
    np.testing.assert_array_equal(read_bvh(path).frames, expected)


# -- the header's helpers -----------------------------------------------------------------------


def test_offset_decimals_agree_with_the_regex():
    rng = np.random.default_rng(8)
    alphabet = list("0123456789+-.eE_x ") + ["\u0663", "\u00bd"]
    tokens = ["nan", "inf", "-Infinity", "1_0", "\u0661.\u0665", "0x1", "1e5", "+.5", "5."]
    tokens += ["".join(rng.choice(alphabet, size=int(rng.integers(1, 9)))).replace(" ", "")
               or "." for _ in range(3000)]
    for token in tokens:
        numbers = bvh._decimals(["1", token, "2"])
        assert (numbers is not None) == bool(bvh._DECIMAL_TEXT.fullmatch(token)), token
        if numbers is not None:
            assert numbers == [1.0, float(token), 2.0]


def test_token_line_is_the_line_of_the_token():
    text = "HIERARCHY\r\nROOT a\n\n  {\tOFFSET 1 2 3\x0bCHANNELS 1\x0cXrotation\n}\r  x"
    expected = [number for number, line in enumerate(text.splitlines(), 1)
                for _ in line.split()]
    assert len(expected) == len(text.split())
    assert [bvh._token_line(text, k) for k in range(len(expected))] == expected


@pytest.mark.parametrize("text", [
    b"HIERARCHY\nMOTION\nFrames: 1\n", b"JOINT MOTION\n{\n  MOTION \r\nFrames: 1\n",
    b"MOTIONS\nxMOTION\n\tMOTION\t\n", b"MOTION", b"no motion here\n", b"MOTIONMOTION\nMOTION\n"])
def test_motion_line_is_what_the_regex_finds(text):
    found, expected = bvh._motion_line(text), bvh._MOTION.search(text)
    assert (found and found.span()) == (expected and expected.span())
