"""Fast, exact scanning of whitespace-separated decimal numbers from bytes (numba).

:func:`scan_numbers` reads a block of text such as the MOTION block of a BVH file in one
compiled pass: it converts every number, counts the numbers on each line, and stops at the
first token that is not a decimal. Conversion is correctly rounded (equal to Python's
``float``) on the fast path of Clinger's algorithm; numbers outside it are flagged
:data:`INEXACT` so that the caller can convert the block again with Python.
"""

from __future__ import annotations

import re

import numpy as np
from numba import njit

OK, SYNTAX_ERROR, INEXACT = 0, 1, 2
"""Status of a scan: every number exact; a token that is not a decimal; some number inexact."""

DECIMAL = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
"""A token that :func:`scan_numbers` accepts (for finding the offending token of a line)."""

NEWLINE, SPACE, TAB, CARRIAGE_RETURN = ord("\n"), ord(" "), ord("\t"), ord("\r")
MINUS, PLUS, POINT = ord("-"), ord("+"), ord(".")
DIGIT_0, DIGIT_9 = ord("0"), ord("9")
EXP_LOWER, EXP_UPPER = ord("e"), ord("E")

EXACT_POWERS = 10.0 ** np.arange(23)
"""10^0 .. 10^22, the powers of ten that are exact doubles."""
MAX_EXACT_POWER = 22
MAX_MANTISSA_DIGITS = 18  # an 18-digit integer always fits in int64
EXACT_MANTISSA = 2**53  # integers below this are exact doubles
EXPONENT_CAP = 9999  # larger exponents are clamped (the number is inexact anyway)


@njit(cache=True, nogil=True, inline="always")
def _is_blank(c) -> bool:
    return c in (SPACE, TAB, NEWLINE, CARRIAGE_RETURN)


@njit(cache=True, nogil=True, inline="always")
def _is_digit(c) -> bool:
    return DIGIT_0 <= c <= DIGIT_9


@njit(cache=True, nogil=True)
def scan_numbers(buf, out, per_line):
    """Parse whitespace-separated decimals from bytes into ``out``; count them per line.

    Parameters
    ----------
    buf : np.ndarray [shape=(n,), dtype=uint8]
        The text.
    out : np.ndarray [shape=(m,), dtype=float64]
        Receives the first ``m`` numbers (the count goes on beyond ``m``).
    per_line : np.ndarray [shape=(lines,), dtype=int64]
        Zeros on entry, at least one entry per line of ``buf``; receives the count per line.

    Returns
    -------
    count : int
        Numbers found (up to the first bad token).
    status : int
        :data:`OK`, :data:`SYNTAX_ERROR` (stopped at a bad token) or :data:`INEXACT` (some
        number is outside the exact fast path; its ``out`` entry is 0).
    line : int
        0-based line of the bad token for :data:`SYNTAX_ERROR`, else the last line.
    """
    n = buf.size
    k = 0
    line = 0
    i = 0
    status = OK
    while i < n:
        c = buf[i]
        if c == NEWLINE:
            line += 1
            i += 1
            continue
        if _is_blank(c):
            i += 1
            continue
        negative = c == MINUS
        if c in (MINUS, PLUS):
            i += 1
        mantissa = 0
        digits = 0
        exponent = 0
        while i < n and _is_digit(buf[i]):  # integer part
            if digits < MAX_MANTISSA_DIGITS:
                mantissa = mantissa * 10 + (buf[i] - DIGIT_0)
            else:
                exponent += 1
                status = INEXACT
            digits += 1
            i += 1
        if i < n and buf[i] == POINT:  # fraction
            i += 1
            while i < n and _is_digit(buf[i]):
                if digits < MAX_MANTISSA_DIGITS:
                    mantissa = mantissa * 10 + (buf[i] - DIGIT_0)
                    exponent -= 1
                else:
                    status = INEXACT
                digits += 1
                i += 1
        if i < n and buf[i] in (EXP_LOWER, EXP_UPPER) and digits > 0:
            i += 1
            sign = 1
            if i < n and buf[i] in (MINUS, PLUS):
                sign = -1 if buf[i] == MINUS else 1
                i += 1
            value = 0
            exp_digits = 0
            while i < n and _is_digit(buf[i]):
                value = min(value * 10 + (buf[i] - DIGIT_0), EXPONENT_CAP)
                exp_digits += 1
                i += 1
            if exp_digits == 0:
                return k, SYNTAX_ERROR, line
            exponent += sign * value
        if digits == 0 or (i < n and not _is_blank(buf[i])):
            return k, SYNTAX_ERROR, line
        if mantissa >= EXACT_MANTISSA or abs(exponent) > MAX_EXACT_POWER:
            status = INEXACT
            number = 0.0
        elif exponent < 0:
            number = mantissa / EXACT_POWERS[-exponent]
        else:
            number = mantissa * EXACT_POWERS[exponent]
        if k < out.size:
            out[k] = -number if negative else number
        per_line[line] += 1
        k += 1
    return k, status, line


def bad_token(line: bytes) -> str:
    """The first token of ``line`` that :func:`scan_numbers` does not accept."""
    token = next((t for t in line.split() if not DECIMAL.fullmatch(t)), b"")
    return token.decode(errors="replace")
