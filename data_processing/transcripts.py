"""Word timings of a recording: Praat TextGrid, JSON or CSV in, one word per frame out.

Formats read by :func:`read_transcript` (chosen by the file's ending):

``.TextGrid``
    Praat's text formats, long (``xmin = 0.5``) and short (values only), UTF-8 or UTF-16, as
    forced aligners (Montreal Forced Aligner, and so BEAT/BEAT2) write them. The word tier is
    the interval tier named ``words`` or ``word`` (any case), else the first interval tier;
    empty intervals (silence) are dropped.
``.json``
    A list of objects ``[{"word": "hello", "start": 0.12, "end": 0.48}, ...]``.
``.csv``
    A header naming the columns ``word,start,end`` (in any order, other columns ignored), then
    one word per row.

Times are in seconds from the start of the recording. Words come in chronological order
(non-decreasing ``start``), each with ``0 <= start <= end``; rows with an empty word are
dropped. Every defect is a :class:`~data_processing.files.PipelineError` of one line naming
the file and the line.

:func:`frame_words` aligns words to frames by the project's frame rule: frame ``i`` is at
``t = i / fps`` and gets the word with ``start <= t < end`` ("" for silence; where words
overlap, the later one).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from data_processing.files import PipelineError

TRANSCRIPT_SUFFIXES = (".textgrid", ".json", ".csv")
"""File endings of transcripts, in order of preference when a recording has several."""
WORD_TIERS = ("words", "word")
"""Tier names (lower case) taken as the word tier of a TextGrid."""
CSV_COLUMNS = ("word", "start", "end")


class Word(NamedTuple):
    """One spoken word and its time span.

    Attributes
    ----------
    word : str
        The word as written in the transcript.
    start, end : float
        Seconds from the start of the recording, ``0 <= start <= end``.
    """

    word: str
    start: float
    end: float


def read_transcript(path) -> list[Word]:
    """The words of a transcript file (TextGrid, JSON or CSV; see the module docstring).

    Parameters
    ----------
    path : path-like
        A ``.TextGrid``, ``.json`` or ``.csv`` file.

    Returns
    -------
    list of Word
        In chronological order, silence (empty words) left out.

    Raises
    ------
    PipelineError
        A missing, unreadable or malformed file, naming the file and line.
    """
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"{path}: no such file")
    readers = {".textgrid": _read_textgrid, ".json": _read_json, ".csv": _read_csv}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise PipelineError(f"{path}: not a transcript (use .TextGrid, .json or .csv)")
    return _checked(path, reader(path, _text(path)))


def frame_words(words: list[Word], n_frames: int, fps: float) -> list[str]:
    """The word spoken at each frame, ``""`` where nobody speaks.

    Parameters
    ----------
    words : list of Word
        Chronological words (:func:`read_transcript`).
    n_frames : int >= 0
        Frames of the recording.
    fps : float > 0
        Frame rate; frame ``i`` is at ``t = i / fps``.

    Returns
    -------
    list of str [length n_frames]
        The word with ``start <= t < end`` at each frame time (the later word where two
        overlap).
    """
    times = np.arange(n_frames) / fps
    out = np.full(n_frames, "", dtype=object)
    for word in words:
        first, stop = np.searchsorted(times, [word.start, word.end], side="left")
        out[first:stop] = word.word
    return out.tolist()


# --------------------------------------------------------------------------------------------
# Common checks


def _text(path: Path) -> str:
    """The file's text: UTF-16 with a byte order mark (Praat's choice for non-ASCII), else UTF-8."""
    raw = path.read_bytes()
    try:
        if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return raw.decode("utf-16")
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise PipelineError(f"{path}: not UTF-8 or UTF-16 text ({error.reason})") from None


def _checked(path: Path, entries: list[tuple[str, float, float, int]]) -> list[Word]:
    """Words of ``(word, start, end, line)`` entries, checked; empty words dropped."""
    words: list[Word] = []
    for word, start, end, line in entries:
        if not (math.isfinite(start) and math.isfinite(end)):
            raise PipelineError(f"{path}:{line}: times must be finite numbers of seconds")
        if not 0.0 <= start <= end:
            raise PipelineError(f"{path}:{line}: expected 0 <= start <= end, found start "
                                f"{start:g} and end {end:g}")
        if words and start < words[-1].start:
            raise PipelineError(f"{path}:{line}: word {word!r} starts at {start:g} s, before "
                                f"the previous word ({words[-1].start:g} s)")
        if word.strip():
            words.append(Word(word.strip(), float(start), float(end)))
    return words


# --------------------------------------------------------------------------------------------
# JSON and CSV


def _read_json(path: Path, text: str) -> list[tuple[str, float, float, int]]:
    """``[{"word", "start", "end"}, ...]``, each entry with the line it starts on."""
    decoder = json.JSONDecoder()
    position = _skip_space(text, 0)
    if text[position : position + 1] != "[":
        raise PipelineError(f"{path}:{_line(text, position)}: expected a JSON list of "
                            '{"word", "start", "end"} objects')
    entries = []
    position = _skip_space(text, position + 1)
    while text[position : position + 1] != "]":
        line = _line(text, position)
        try:
            item, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise PipelineError(f"{path}:{error.lineno}: malformed JSON ({error.msg})") from None
        entries.append((*_json_word(path, item, line), line))
        position = _skip_space(text, position)
        if text[position : position + 1] == ",":
            position = _skip_space(text, position + 1)
        elif text[position : position + 1] != "]":
            raise PipelineError(f"{path}:{_line(text, position)}: malformed JSON (expected "
                                "',' or ']')")
    if text[_skip_space(text, position + 1):]:
        raise PipelineError(f"{path}:{_line(text, position + 1)}: text after the JSON list")
    return entries


def _json_word(path: Path, item, line: int) -> tuple[str, float, float]:
    """``(word, start, end)`` of one JSON entry."""
    if not isinstance(item, dict) or not set(CSV_COLUMNS) <= set(item):
        raise PipelineError(f"{path}:{line}: expected an object with \"word\", \"start\" and "
                            "\"end\"")
    word, start, end = (item[k] for k in CSV_COLUMNS)
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (start, end))
    if not isinstance(word, str) or not numbers:
        raise PipelineError(f"{path}:{line}: \"word\" must be a string, \"start\" and \"end\" "
                            "numbers of seconds")
    return word, float(start), float(end)


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


def _line(text: str, position: int) -> int:
    return text.count("\n", 0, position) + 1


def _read_csv(path: Path, text: str) -> list[tuple[str, float, float, int]]:
    """Rows of a CSV with the columns ``word,start,end``."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise PipelineError(f"{path}:1: expected a header with the columns word,start,end "
                                f"(missing {', '.join(missing)})")
        columns = [header.index(c) for c in CSV_COLUMNS]
        entries = []
        for row in reader:
            if any(cell.strip() for cell in row):
                entries.append(_csv_word(path, row, columns, reader.line_num))
    except csv.Error as error:
        raise PipelineError(f"{path}:{reader.line_num}: malformed CSV ({error})") from None
    return entries


def _csv_word(path: Path, row: list[str], columns: list[int],
              line: int) -> tuple[str, float, float, int]:
    if len(row) <= max(columns):
        raise PipelineError(f"{path}:{line}: expected {max(columns) + 1} columns, found "
                            f"{len(row)}")
    word, start, end = (row[c] for c in columns)
    try:
        return word, float(start), float(end), line
    except ValueError:
        raise PipelineError(f"{path}:{line}: start and end must be numbers of seconds, found "
                            f"{start!r} and {end!r}") from None


# --------------------------------------------------------------------------------------------
# Praat TextGrid

_TOKEN = re.compile(r"""
    (?P<string>"(?:[^"]|"")*")
  | (?P<flag><[A-Za-z]+>)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?![A-Za-z_\d])
  | (?P<skip>\[[^\]\n]*\]|[A-Za-z_][A-Za-z_\d?]*|[=:]|\s+|!.*)
  | (?P<other>.)
""", re.VERBOSE)


class _Token(NamedTuple):
    kind: str
    value: str
    line: int


def _textgrid_tokens(path: Path, text: str) -> list[_Token]:
    """The values of a TextGrid in file order: strings, numbers and ``<flags>``.

    Both text formats hold the same values in the same order; the long format's labels
    (``xmin =``, ``item [1]:``, ``intervals: size =``) are skipped.
    """
    tokens, line = [], 1
    for match in _TOKEN.finditer(text):
        kind, value = match.lastgroup, match.group()
        if kind == "other":
            raise PipelineError(f"{path}:{line}: unexpected {value!r} in a TextGrid")
        if kind == "string":
            tokens.append(_Token(kind, value[1:-1].replace('""', '"'), line))
        elif kind != "skip":
            tokens.append(_Token(kind, value, line))
        line += value.count("\n")
    return tokens


class _TextGridReader:
    """Reads the values of :func:`_textgrid_tokens` one by one, with errors naming the line."""

    def __init__(self, path: Path, tokens: list[_Token]):
        self.path, self.tokens, self.i = path, tokens, 0

    def fail(self, problem: str) -> PipelineError:
        """An error at the current value (or the last line at the end of the file)."""
        line = self.tokens[min(self.i, len(self.tokens) - 1)].line if self.tokens else 1
        return PipelineError(f"{self.path}:{line}: {problem}")

    def take(self, kind: str, what: str) -> _Token:
        """The next value, which must be of ``kind``."""
        if self.i >= len(self.tokens):
            raise self.fail(f"unexpected end of the TextGrid while reading {what}")
        token = self.tokens[self.i]
        if token.kind != kind:
            raise self.fail(f"expected {what}, found {token.value!r}")
        self.i += 1
        return token

    def number(self, what: str) -> float:
        """The next value as a number."""
        return float(self.take("number", what).value)

    def count(self, what: str) -> int:
        """The next value as a count (a whole number >= 0)."""
        value = self.number(what)
        if value < 0 or value != int(value):
            self.i -= 1
            raise self.fail(f"expected a count of {what}, found {value:g}")
        return int(value)

    def tiers(self) -> list[tuple[str, str, list]]:
        """``(class, name, items)`` of every tier; items are ``(text, xmin, xmax, line)``."""
        if self.take("string", "the file type").value != "ooTextFile":
            self.i -= 1
            raise self.fail("not a Praat text file (expected File type = \"ooTextFile\")")
        if not self.take("string", "the object class").value.startswith("TextGrid"):
            self.i -= 1
            raise self.fail("not a TextGrid (expected Object class = \"TextGrid\")")
        self.number("xmin")
        self.number("xmax")
        if self.take("flag", "<exists>").value != "<exists>":
            return []
        return [self.tier() for _ in range(self.count("tiers"))]

    def tier(self) -> tuple[str, str, list]:
        """One tier: intervals ``(text, xmin, xmax, line)``, points ``(mark, t, t, line)``."""
        kind = self.take("string", "a tier class").value
        if kind not in ("IntervalTier", "TextTier"):
            self.i -= 1
            raise self.fail(f"unknown tier class {kind!r} (expected IntervalTier or TextTier)")
        name = self.take("string", "a tier name").value
        self.number("the tier's xmin")
        self.number("the tier's xmax")
        items = []
        for _ in range(self.count("intervals" if kind == "IntervalTier" else "points")):
            line = self.tokens[min(self.i, len(self.tokens) - 1)].line
            start = self.number("a time")
            end = self.number("the interval's xmax") if kind == "IntervalTier" else start
            items.append((self.take("string", "a label").value, start, end, line))
        return kind, name, items

    def finish(self) -> None:
        """Nothing may follow the last tier."""
        if self.i < len(self.tokens):
            raise self.fail(f"unexpected {self.tokens[self.i].value!r} after the last tier")


def _read_textgrid(path: Path, text: str) -> list[tuple[str, float, float, int]]:
    """The intervals of the word tier."""
    reader = _TextGridReader(path, _textgrid_tokens(path, text))
    tiers = reader.tiers()
    reader.finish()
    intervals = [(name, items) for kind, name, items in tiers if kind == "IntervalTier"]
    if not intervals:
        raise PipelineError(f"{path}: no interval tier (a word tier is needed)")
    named = [items for name, items in intervals if name.strip().lower() in WORD_TIERS]
    return named[0] if named else intervals[0][1]
