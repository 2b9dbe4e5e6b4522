import json

import pytest

from data_processing.files import PipelineError
from data_processing.transcripts import Word, frame_words, read_transcript

LONG = '''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 2.5
tiers? <exists>
size = 2
item []:
    item [1]:
        class = "IntervalTier"
        name = "phones"
        xmin = 0
        xmax = 2.5
        intervals: size = 1
        intervals [1]:
            xmin = 0
            xmax = 2.5
            text = "HH AH L OW"
    item [2]:
        class = "IntervalTier"
        name = "words"
        xmin = 0
        xmax = 2.5
        intervals: size = 4
        intervals [1]:
            xmin = 0
            xmax = 0.5
            text = ""
        intervals [2]:
            xmin = 0.5
            xmax = 1.05
            text = "hello"
        intervals [3]:
            xmin = 1.05
            xmax = 1.6
            text = "say ""hi"""
        intervals [4]:
            xmin = 1.6
            xmax = 2.5
            text = ""
'''

SHORT = '''File type = "ooTextFile"
Object class = "TextGrid"

0
2.5
<exists>
2
"TextTier"
"beats"
0
2.5
1
0.7
"beat"
"IntervalTier"
"speech"
0
2.5
4
0
0.5
""
0.5
1.05
"hello"
1.05
1.6
"say ""hi"""
1.6
2.5
""
'''

EXPECTED = [Word("hello", 0.5, 1.05), Word('say "hi"', 1.05, 1.6)]


@pytest.mark.parametrize(("text", "encoding"), [(LONG, "utf-8"),
                                                (SHORT, "utf-8"),
                                                (LONG, "utf-16")])
def test_textgrid_long_and_short_formats(tmp_path, text, encoding):
    path = tmp_path / "take.TextGrid"
    path.write_bytes(text.encode(encoding))  # Python's utf-16 writes a byte order mark, as Praat
    assert read_transcript(path) == EXPECTED


def test_json_and_csv(tmp_path):
    entries = [{"word": "hello", "start": 0.5, "end": 1.05},
               {"word": "", "start": 1.05, "end": 1.1},
               {"word": 'say "hi"', "start": 1.1, "end": 1.6, "score": 0.9}]
    (tmp_path / "a.json").write_text(json.dumps(entries, indent=1))
    assert read_transcript(tmp_path / "a.json") == [EXPECTED[0], Word('say "hi"', 1.1, 1.6)]
    (tmp_path / "a.csv").write_text('start,word,end\n0.5,hello,1.05\n\n1.05,"say ""hi""",1.6\n')
    assert read_transcript(tmp_path / "a.csv") == EXPECTED


@pytest.mark.parametrize(("name", "text", "message"), [
    ("a.TextGrid", LONG.replace("xmax = 1.05", "xmax = 1,05"), r"a\.TextGrid:31: unexpected ','"),
    ("a.TextGrid", LONG.replace("size = 4", "size = 5"), r"a\.TextGrid:\d+: unexpected end"),
    ("a.TextGrid", LONG.replace('"TextGrid"', '"Pitch"'), r"a\.TextGrid:2: not a TextGrid"),
    ("a.TextGrid", SHORT.replace("0.5\n1.05", "0.5\n0.4"),
     r"a\.TextGrid:23: expected 0 <= start <= end"),
    ("a.json", '[\n {"word": "a", "start": 0, "end": 1},\n {"word": "b", "end": 2}\n]',
     r"a\.json:3: expected an object"),
    ("a.json", '[\n {"word": "a", "start": 0, "end": 1}\n {"word": "b"}]', r"a\.json:3: malformed"),
    ("a.json", '[\n {"word": "b", "start": 2, "end": 3},\n {"word": "a", "start": 0, "end": 1}]',
     r"a\.json:3: word 'a' starts at 0 s, before"),
    ("a.csv", "word,start,end\nhello,0.5,1\nworld,one,2\n", r"a\.csv:3: start and end must be"),
    ("a.csv", "token,begin,end\n", r"a\.csv:1: expected a header"),
    ("a.csv", "word,start,end\nhello,0.5,nan\n", r"a\.csv:2: times must be finite"),
    ("a.txt", "hello", r"a\.txt: not a transcript"),
])
def test_malformed_transcripts_name_file_and_line(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(PipelineError, match=message) as error:
        read_transcript(tmp_path / name)
    assert "\n" not in str(error.value)


def test_frame_words_at_frame_times():
    words = [Word("hello", 0.5, 1.05), Word("world", 1.05, 1.2), Word("again", 1.5, 1.5)]
    got = frame_words(words, 16, 10.0)  # frames at 0.0, 0.1, ..., 1.5 s
    assert got == [""] * 5 + ["hello"] * 6 + ["world"] + [""] * 4  # "again" lasts no time
    assert frame_words(words, 0, 10.0) == []
    assert frame_words([], 3, 20.0) == ["", "", ""]
    assert frame_words([Word("a", 0.0, 1.0), Word("b", 0.5, 2.0)], 4, 2.0) == ["a", "b", "b", "b"]
