"""Fast, exact scanning of whitespace-separated decimal numbers from bytes (numba).

:func:`scan_numbers` reads a block of text such as the MOTION block of a BVH file in one
compiled pass: it converts every number, counts the numbers on each line, and stops at the
first token that is not a decimal. Conversion is correctly rounded (equal to Python's
``float``) on the fast path of Clinger's algorithm; numbers outside it are flagged
:data:`INEXACT` so that the caller can convert the block again with Python.

Plain decimals (no exponent) of up to 8 bytes, and of up to 16 bytes with at most 7 digits on
each side of the point, are converted without a branch per character: eight bytes at a time
are loaded as one little-endian word, and their digits found and combined with bit tricks
("SWAR", SIMD within a register). A loop over the digits mispredicts a branch at the end of
almost every number, which costs more than the conversion itself. Every other token, and
every token within 17 bytes of the end of the buffer, takes the per-character path.
"""

from __future__ import annotations

import re

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

OK, SYNTAX_ERROR, INEXACT = 0, 1, 2
"""Status of a scan: every number exact; a token that is not a decimal; some number inexact."""

DECIMAL = re.compile(rb"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
"""A token that :func:`scan_numbers` accepts (for finding the offending token of a line)."""

NEWLINE, SPACE, TAB, CARRIAGE_RETURN = ord("\n"), ord(" "), ord("\t"), ord("\r")
MINUS, PLUS, POINT = ord("-"), ord("+"), ord(".")
DIGIT_0, DIGIT_9 = ord("0"), ord("9")
EXP_LOWER, EXP_UPPER = ord("e"), ord("E")

BLANK = np.zeros(256, dtype=np.bool_)
"""Whether a byte separates tokens (space, tab, line feed, carriage return)."""
BLANK[[SPACE, TAB, NEWLINE, CARRIAGE_RETURN]] = True

EXACT_POWERS = 10.0 ** np.arange(23)
"""10^0 .. 10^22, the powers of ten that are exact doubles."""
MAX_EXACT_POWER = 22
MAX_MANTISSA_DIGITS = 18  # an 18-digit integer always fits in int64
EXACT_MANTISSA = 2**53  # integers below this are exact doubles
EXPONENT_CAP = 9999  # larger exponents are clamped (the number is inexact anyway)

WORD = 8
"""Bytes per machine word, the unit of the branch-free path."""
WINDOW = 2 * WORD + 1
"""Bytes from a token's start that the branch-free path may read."""
LINES_AT_FIRST = 1024
"""Entries of the count per line before it grows (doubling)."""
SHORT_POWERS = 10 ** np.arange(WORD, dtype=np.uint64)
"""10^0 .. 10^7 as integers: a run of at most 7 digits times one of them stays exact."""
SIGNED_POWERS = np.array([10.0 ** np.arange(WORD), -(10.0 ** np.arange(WORD))])
"""``[negative, places]``: the divisor that scales and signs a mantissa in one exact division."""


def _every_byte(value: int) -> np.uint64:
    """``value`` in each of the eight bytes of a word."""
    return np.uint64(value * 0x0101010101010101)


ZEROS = _every_byte(DIGIT_0)
LOW_7_BITS = _every_byte(0x7F)
ABOVE_NINE = _every_byte(0x80 - 10)  # carries a byte of 10 or more into its top bit
TOP_BITS = _every_byte(0x80)
ABOVE_SPACE = _every_byte(SPACE + 1)
LOW_BYTE = np.uint64(0xFF)
BYTE_BITS = np.uint64(8)
SHIFT_MASK = np.uint64(63)
ONE = np.uint64(1)
# Eight digit values (first digit in the low byte) to an integer in three multiplications:
# pairs, then quadruples, then the whole word (Lemire, "Fast float parsing in practice").
PAIRS, PAIR_MASK = np.uint64(10 * 2**8 + 1), np.uint64(0x00FF00FF00FF00FF)
QUADS, QUAD_MASK = np.uint64(100 * 2**16 + 1), np.uint64(0x0000FFFF0000FFFF)
OCTETS = np.uint64(10000 * 2**32 + 1)


@intrinsic
def _load_word(typingctx, buf, i):
    """``buf[i : i + 8]`` as one little-endian uint64 (x86-64 and AArch64 are little-endian).

    Only for contiguous uint8 arrays (others do not compile): it reads the bytes in place.
    """
    if not (isinstance(buf, types.Array) and buf.dtype == types.uint8 and buf.layout == "C"):
        return None

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])
        address = builder.gep(array.data, [args[1]])
        return builder.load(builder.bitcast(address, ir.IntType(64).as_pointer()), align=1)
    return types.uint64(buf, i), codegen


@intrinsic
def _trailing_zeros(typingctx, word):
    """Number of trailing zero bits of a uint64 (64 for zero), one instruction."""

    def codegen(context, builder, signature, args):
        return builder.cttz(args[0], ir.Constant(ir.IntType(1), 0))
    return types.uint64(word), codegen


@njit(cache=True, nogil=True, inline="always")
def _first_byte(flags):
    """Index of the lowest byte whose top bit is set in ``flags`` (8 when none)."""
    return np.int64(_trailing_zeros(flags) >> np.uint64(3))


@njit(cache=True, nogil=True, inline="always")
def _non_digits(values):
    """Top bit of each byte of ``values`` (bytes XOR ``'0'``) that is not a digit 0-9."""
    return (((values & LOW_7_BITS) + ABOVE_NINE) | values) & TOP_BITS


@njit(cache=True, nogil=True, inline="always")
def _token_ends(word):
    """Top bit of the bytes ``<= ' '``; exact for the lowest one, which is all that is used."""
    return (word - ABOVE_SPACE) & ~word & TOP_BITS


@njit(cache=True, nogil=True, inline="always")
def _eight_digits(values):
    """The integer of eight digit values, the first one in the low byte."""
    values = (values * PAIRS) >> BYTE_BITS
    values = ((values & PAIR_MASK) * QUADS) >> np.uint64(16)
    return ((values & QUAD_MASK) * OCTETS) >> np.uint64(32)


@njit(cache=True, nogil=True, inline="always")
def _top_digits(values, count):
    """The integer of the first ``count`` (1-8) digit values of a word."""
    return _eight_digits(values << ((BYTE_BITS * np.uint64(WORD - count)) & SHIFT_MASK))


@njit(cache=True, nogil=True, inline="always")
def _digit_run(word):
    """Length (8: eight or more) and value of the run of digits that starts a word."""
    values = word ^ ZEROS
    count = _first_byte(_non_digits(values))
    if count == 0:
        return 0, np.uint64(0)
    return count, _top_digits(values, count)


@njit(cache=True, nogil=True, inline="always")
def _short_token(word, length):
    """Value of a token of ``length`` <= 8 bytes that starts ``word``, and whether it is valid.

    The point is cut out of the word, so that one conversion reads every digit.
    """
    first = word & LOW_BYTE
    negative = first == MINUS
    sign = np.uint64(negative | (first == PLUS))
    body = word >> (BYTE_BITS * sign)  # zero bytes come in at the top: never digits
    values = body ^ ZEROS
    whole = _first_byte(_non_digits(values))
    at_point = (BYTE_BITS * np.uint64(whole)) & SHIFT_MASK
    point = np.uint64(((body >> at_point) & LOW_BYTE) == POINT)
    keep = ((ONE << at_point) - ONE) | (point - ONE)  # every byte when there is no point
    digits = ((body & keep) | ((body >> BYTE_BITS) & ~keep)) ^ ZEROS
    count = length - np.int64(sign + point)
    valid = (count > 0) & (_first_byte(_non_digits(digits)) >= count)
    mantissa = np.int64(_top_digits(digits, count))
    return mantissa / SIGNED_POWERS[np.int64(negative), (count - whole) & (WORD - 1)], valid


@njit(cache=True, nogil=True, inline="always")
def _long_token(buf, i, length):
    """Value of a token of ``length`` (9-16) bytes at ``i``, and whether it is valid.

    Valid: a point between runs of at most 7 digits, the whole token.
    """
    first = buf[i]
    negative = first == MINUS
    start = i + np.int64(negative | (first == PLUS))
    whole, integer = _digit_run(_load_word(buf, start))
    point = start + (whole & (WORD - 1))
    places, fraction = _digit_run(_load_word(buf, point + 1))
    valid = ((buf[point] == POINT) & (whole < WORD) & (places < WORD) & (whole + places > 0)
             & (point + 1 + places == i + length))
    mantissa = np.int64(integer * SHORT_POWERS[places & (WORD - 1)] + fraction)
    return mantissa / SIGNED_POWERS[np.int64(negative), places & (WORD - 1)], valid


@njit(cache=True, nogil=True, inline="always")
def _is_digit(c) -> bool:
    return DIGIT_0 <= c <= DIGIT_9


@njit(cache=True, nogil=True)
def _any_token(buf, i):
    """Any token at ``i``, one character at a time: its value, end and status."""
    n = buf.size
    negative = buf[i] == MINUS
    if buf[i] == MINUS or buf[i] == PLUS:
        i += 1
    mantissa = 0  # of the first MAX_MANTISSA_DIGITS digits; more make the number inexact
    digits = 0
    exponent = 0
    while i < n and _is_digit(buf[i]):  # integer part
        if digits < MAX_MANTISSA_DIGITS:
            mantissa = mantissa * 10 + (buf[i] - DIGIT_0)
        digits += 1
        i += 1
    if i < n and buf[i] == POINT:  # fraction
        i += 1
        while i < n and _is_digit(buf[i]):
            if digits < MAX_MANTISSA_DIGITS:
                mantissa = mantissa * 10 + (buf[i] - DIGIT_0)
            exponent -= 1
            digits += 1
            i += 1
    if i < n and (buf[i] == EXP_LOWER or buf[i] == EXP_UPPER) and digits > 0:
        i += 1
        sign = 1
        if i < n and (buf[i] == MINUS or buf[i] == PLUS):
            sign = -1 if buf[i] == MINUS else 1
            i += 1
        value = 0
        exp_digits = 0
        while i < n and _is_digit(buf[i]):
            value = min(value * 10 + (buf[i] - DIGIT_0), EXPONENT_CAP)
            exp_digits += 1
            i += 1
        if exp_digits == 0:
            return 0.0, i, SYNTAX_ERROR
        exponent += sign * value
    if digits == 0 or (i < n and not BLANK[buf[i]]):
        return 0.0, i, SYNTAX_ERROR
    if (digits > MAX_MANTISSA_DIGITS or mantissa >= EXACT_MANTISSA
            or abs(exponent) > MAX_EXACT_POWER):
        return 0.0, i, INEXACT
    number = (mantissa / EXACT_POWERS[-exponent] if exponent < 0
              else mantissa * EXACT_POWERS[exponent])
    return (-number if negative else number), i, OK


@njit(cache=True, nogil=True)
def _grown(counts):
    """``counts`` with room for as many entries again."""
    more = np.zeros(2 * counts.size, dtype=counts.dtype)
    more[: counts.size] = counts
    return more


@njit(cache=True, nogil=True, error_model="numpy")  # no zero-division checks: divisors are 10^k
def scan_numbers(buf, out):
    """Parse whitespace-separated decimals from bytes into ``out``; count them per line.

    Parameters
    ----------
    buf : np.ndarray [shape=(n,), dtype=uint8]
        The text.
    out : np.ndarray [shape=(m,), dtype=float64]
        Receives the first ``m`` numbers (the count goes on beyond ``m``).

    Returns
    -------
    count : int
        Numbers found (up to the first bad token).
    status : int
        :data:`OK`, :data:`SYNTAX_ERROR` (stopped at a bad token) or :data:`INEXACT` (some
        number is outside the exact fast path; its ``out`` entry is 0).
    line : int
        0-based line of the bad token for :data:`SYNTAX_ERROR`, else the last line.
    per_line : np.ndarray [shape=(line + 1,), dtype=int64]
        Numbers on each line up to ``line`` (the bad token's line: incomplete).
    """
    n = buf.size
    per_line = np.zeros(LINES_AT_FIRST, dtype=np.int64)
    k = 0
    line = 0
    line_start = 0  # k at the start of the line
    i = 0
    status = OK
    while i < n:
        c = buf[i]
        if c == SPACE:
            i += 1
            continue
        if c == NEWLINE:
            per_line[line] = k - line_start
            line_start = k
            line += 1
            if line == per_line.size:
                per_line = _grown(per_line)
            i += 1
            continue
        if BLANK[c]:
            i += 1
            continue
        valid = False
        if i + WINDOW <= n:
            word = _load_word(buf, i)
            ends = _token_ends(word)
            if ends:
                length = _first_byte(ends)
                number, valid = _short_token(word, length)
            else:
                length = WORD + _first_byte(_token_ends(_load_word(buf, i + WORD)))
                number, valid = _long_token(buf, i, length)
            end = i + length
            valid = valid and BLANK[buf[end]]
        if not valid:
            number, end, token_status = _any_token(buf, i)
            if token_status == SYNTAX_ERROR:
                return k, SYNTAX_ERROR, line, per_line[: line + 1]
            status = max(status, token_status)
        if k < out.size:
            out[k] = number
        k += 1
        i = end
    per_line[line] = k - line_start
    return k, status, line, per_line[: line + 1]


def bad_token(line: bytes) -> str:
    """The first token of ``line`` that :func:`scan_numbers` does not accept."""
    token = next((t for t in line.split() if not DECIMAL.fullmatch(t)), b"")
    return token.decode(errors="replace")
