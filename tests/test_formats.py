"""Every format music21 reads that a theorist brings: read safely, or refused clearly.

Good files: a sample of music21's own corpus in each format (Humdrum **kern, ABC, MusicXML
in UTF-16, RomanText) and a hand-made MEI go through ``load_score`` and then
``convert_score(meter="rebar")``. Hostile files of each new format are refused with an
:class:`InputError` naming the file, within bounded time.
"""

from __future__ import annotations

import io
import logging
import time
import zipfile
from pathlib import Path

import pytest
from music21.common import getCorpusFilePath

from qbdi_musicology.errors import InputError
from qbdi_musicology.formats import abc_tunes, decode_xml
from qbdi_musicology.pianoroll import convert_score
from qbdi_musicology.pieces import find_piece, get_spec, resolve_query, split_tune
from qbdi_musicology.scoreio import Limits, load_score

from test_scoreio import musicxml_text

M21 = Path(getCorpusFilePath())

MEI = """<?xml version="1.0" encoding="{encoding}"?>
{doctype}<mei xmlns="http://www.music-encoding.org/ns/mei" meiversion="4.0.1">
  <meiHead><fileDesc><titleStmt><title>{title}</title></titleStmt><pubStmt/></fileDesc>
  </meiHead>
  <music><body><mdiv><score>
    <scoreDef meter.count="3" meter.unit="4" key.sig="0">
      <staffGrp><staffDef n="1" lines="5" clef.shape="G" clef.line="2"/></staffGrp>
    </scoreDef>
    <section>
      <measure n="1"><staff n="1"><layer n="1">
        <note pname="c" oct="4" dur="4"/><note pname="e" oct="4" dur="4"/>
        <note pname="g" oct="4" dur="4"/>
      </layer></staff></measure>
      <measure n="2"><staff n="1"><layer n="1">
        <chord dur="2" dots="1"><note pname="c" oct="4"/><note pname="e" oct="4"/>
          <note pname="g" oct="4"/></chord>
      </layer></staff></measure>
    </section>
  </score></mdiv></body></music>
</mei>
"""


def mei_text(encoding="UTF-8", doctype="", title="Hand-made MEI") -> str:
    return MEI.format(encoding=encoding, doctype=doctype, title=title)


THREE_TUNES = """%abc-2.1
% a file of three tunes, as folk-song collections are
X:1
T:First Reel
M:4/4
L:1/8
K:G
GABc dedB|dedB dedB|
X:2
T:Second Air
M:3/4
L:1/4
K:D
D F A|d2 A|F2 D|]
X:7
T:Third Jig
M:6/8
L:1/8
K:Am
A2B c2d|e2d c2B|
"""


def _readable(path: Path, **kw):
    score = load_score(path, **kw)
    conv = convert_score(score, meter="rebar", source=path.name)
    assert conv.bars.shape[0] > 0 and conv.bars[..., 0].any(), path
    return score, conv


# ------------------------------------------------------------------ music21's own corpus


@pytest.mark.parametrize("piece", [
    "bach/bwv277.krn",                       # a chorale in Humdrum **kern
    "palestrina/Agnus_01.krn",               # Renaissance polyphony, **kern
    "ryansMammoth/7thRegimentReel.abc",      # one ABC tune
    "essenFolksong/altdeu10.abc",            # 313 tunes in one file: the first is read
    "monteverdi/madrigal.3.1.rntxt",         # a RomanText analysis
    "beach/prayer_of_a_tired_child.musicxml",
])
def test_corpus_pieces_of_every_format_load_and_convert(piece):
    _readable(M21 / piece)


def test_utf16_musicxml_of_the_corpus_is_read():
    """beethoven/opus18no3.mxl holds UTF-16 with a byte-order mark (music21 reads it)."""
    path = M21 / "beethoven/opus18no3.mxl"
    with zipfile.ZipFile(path) as archive:
        inner = archive.read("opus18no3.xml")
    assert inner.startswith(b"\xff\xfe")
    score, conv = _readable(path)
    assert len(score.parts) == 4 and conv.bars.shape[0] > 500


@pytest.mark.parametrize("encoding,codec", [("UTF-16", "utf-16"), ("UTF-16", "utf-16-le"),
                                            ("UTF-16", "utf-16-be"), ("ISO-8859-1", "latin-1"),
                                            ("UTF-8", "utf-8-sig")])
def test_musicxml_in_any_declared_encoding(tmp_path, encoding, codec):
    text = musicxml_text("Caf\u00e9 cr\u00e8me").replace("UTF-8", encoding)
    for path in (tmp_path / "enc.musicxml", tmp_path / "enc.mxl"):
        data = text.encode(codec)
        if path.suffix == ".mxl":
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as z:
                z.writestr("score.xml", data)
            data = buf.getvalue()
        path.write_bytes(data)
        score = load_score(path)
        assert score.metadata.title == "Caf\u00e9 cr\u00e8me"
        assert score.recurse().notes.first().root().name == "C"


def test_musicxml_whose_bytes_are_not_its_declared_encoding(tmp_path):
    path = tmp_path / "liar.musicxml"
    path.write_bytes(musicxml_text("Caf\u00e9").encode("latin-1"))  # declared UTF-8
    with pytest.raises(InputError, match="liar.musicxml"):
        load_score(path)
    with pytest.raises(InputError, match="not known"):
        decode_xml(b'<?xml version="1.0" encoding="klingon-7"?><a/>', "x.xml")


@pytest.mark.parametrize("encoding,codec", [("UTF-8", "utf-8"), ("UTF-16", "utf-16")])
def test_hand_made_mei_loads_and_converts(tmp_path, encoding, codec):
    path = tmp_path / "small.mei"
    path.write_bytes(mei_text(encoding).encode(codec))
    score, conv = _readable(path)
    assert [n.pitch.name for n in score.recurse().notes if n.isNote] == ["C", "E", "G"]
    assert conv.bars.shape[0] == 2  # two 3/4 bars, rebarred into 4/4 bars


# ------------------------------------------------------------------ ABC tunes


def test_abc_multi_tune_first_by_default_and_says_so(tmp_path, caplog):
    path = tmp_path / "three.abc"
    path.write_text(THREE_TUNES)
    with caplog.at_level(logging.WARNING, logger="qbdi_musicology.scoreio"):
        score = load_score(path)
    assert score.metadata.title == "First Reel" and score.metadata.number == "1"
    assert "holds 3 tunes; reading the first, X:1 'First Reel'" in caplog.text
    assert "three.abc#N" in caplog.text
    assert [t.number for t in abc_tunes(path.read_bytes())] == [1, 2, 7]


def test_abc_tune_by_number_and_by_query(tmp_path, caplog):
    path = tmp_path / "three.abc"
    path.write_text(THREE_TUNES)
    second = load_score(path, tune=2)
    assert second.metadata.title == "Second Air"
    with caplog.at_level(logging.WARNING):
        third = resolve_query(f"{path}#7")
    assert third.metadata.title == "Third Jig" and "holds 3 tunes" not in caplog.text
    assert [n.pitch.name for n in third.recurse().notes][:3] == ["A", "B", "C"]
    with pytest.raises(InputError, match=r"no tune X:3 in the file; its tunes are X: 1, 2, 7 "
                                         r"\(choose one with three.abc#N\)"):
        load_score(path, tune=3)
    assert split_tune("corpus:music21/essenFolksong/altdeu10#12") == (
        "corpus:music21/essenFolksong/altdeu10", 12)


def test_abc_tune_of_a_corpus_piece():
    score = resolve_query("corpus:music21/essenFolksong/altdeu10#3")
    assert score.metadata.number == "3"
    with pytest.raises(InputError, match="is not ABC; leave out the #2"):
        resolve_query("corpus:music21/bach/bwv277#2")


def test_tune_number_for_a_file_that_is_not_abc(tmp_path):
    path = tmp_path / "c.musicxml"
    path.write_text(musicxml_text())
    with pytest.raises(InputError, match="only chooses among the tunes of an ABC file"):
        load_score(path, tune=2)
    odd = tmp_path / "odd#2.musicxml"  # a file whose name really holds '#2'
    odd.write_text(musicxml_text())
    assert resolve_query(str(odd)).recurse().notes.first() is not None


# ------------------------------------------------------------------ hostile files


def _refused(path: Path, match: str, seconds: float = 10.0, **kw) -> str:
    started = time.perf_counter()
    with pytest.raises(InputError, match=match) as caught:
        load_score(path, **kw)
    assert time.perf_counter() - started < seconds
    message = str(caught.value)
    assert "\n" not in message and path.name in message
    return message


def test_huge_kern_spine_is_refused_before_music21_builds_it(tmp_path):
    path = tmp_path / "huge.krn"
    bar = "=\n" + "64c\n" * 160  # 2.5 bars of 4/4 in one "bar": still 2 MB of text
    path.write_text("**kern\n*M4/4\n" + bar * 4000 + "*-\n")
    _refused(path, "500001 notes, over the limit of 500000", seconds=5)
    bars = tmp_path / "bars.krn"
    bars.write_text("**kern\n*M4/4\n" + "=\n1c\n" * 100_000 + "*-\n")
    _refused(bars, "100000 bars, over the limit of 5000 bars", seconds=5)
    wide = tmp_path / "wide.krn"
    wide.write_text("\t".join(["**kern"] * 300) + "\n" + "\t".join(["4c"] * 300) + "\n")
    _refused(wide, "300 spines", seconds=5)


def test_humdrum_that_is_not_kern_or_not_humdrum(tmp_path):
    dyn = tmp_path / "dynamics.krn"
    dyn.write_text("**dynam\n=1\np\n*-\n")
    _refused(dyn, r"no \*\*kern spine \(it has \*\*dynam\)")
    noise = tmp_path / "noise.krn"
    noise.write_bytes(bytes(range(256)) * 4)
    _refused(noise, "binary data, not a Humdrum text file")
    prose = tmp_path / "prose.krn"
    prose.write_text("Dear students,\nthe exam is on Monday.\n")
    _refused(prose, "not a Humdrum file")
    rests = tmp_path / "rests.krn"
    rests.write_text("**kern\n*M4/4\n=1\n1r\n*-\n")
    _refused(rests, "hold no notes")


def test_truncated_abc_header_and_abc_without_music(tmp_path):
    cut = tmp_path / "cut.abc"
    cut.write_text("X:1\nT:Reel\nM:4/")
    _refused(cut, r"X:1 'Reel' has no K: \(key\) line, so its header never ends")
    bare = tmp_path / "bare.abc"
    bare.write_text("X:1\nT:Air\nM:3/4\nK:D\n")
    _refused(bare, "has a header but no notes")
    long = tmp_path / "long.abc"
    long.write_text("X:1\nT:Endless\nM:4/4\nL:1/4\nK:C\n" + "C D E F|" * 20_000 + "\n")
    _refused(long, "20000 bars, over the limit of 5000", seconds=5)


def _zip(members: dict[str, bytes | str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


MSCX = ('<?xml version="1.0" encoding="UTF-8"?>\n<museScore version="4.20"><Score>'
        '<Staff id="1"><Measure><voice><Chord><durationType>whole</durationType><Note>'
        '<pitch>60</pitch></Note></Chord></voice></Measure></Staff></Score></museScore>\n')


def test_musescore_files_are_checked_then_refused_with_advice(tmp_path):
    mscz = tmp_path / "song.mscz"
    mscz.write_bytes(_zip({"META-INF/container.xml": '<container><rootfiles><rootfile '
                                                     'full-path="song.mscx"/></rootfiles>'
                                                     '</container>', "song.mscx": MSCX}))
    _refused(mscz, r"music21 cannot read MuseScore's own format \(MuseScore 4.20 file\); in "
                   "MuseScore choose File > Export > MusicXML")
    mscx = tmp_path / "song.mscx"
    mscx.write_text(MSCX)
    _refused(mscx, "Export > MusicXML")
    named_wrong = tmp_path / "song.musicxml"
    named_wrong.write_text(MSCX)
    _refused(named_wrong, "a MuseScore file must be named .mscx")


def test_zip_bomb_in_mscz_is_refused_unread(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("bomb.mscx", "w", force_zip64=True) as fh:
            fh.write(MSCX.encode()[:-14])
            block = b" " * (1 << 20)
            for _ in range(80):
                fh.write(block)
    path = tmp_path / "bomb.mscz"
    path.write_bytes(buf.getvalue())
    assert path.stat().st_size < 1 << 20
    _refused(path, "zip bomb")
    escape = tmp_path / "escape.mscz"
    escape.write_bytes(_zip({"../../escaped.mscx": MSCX}))
    _refused(escape, "outside the archive")


def test_mei_with_an_external_entity_is_refused_and_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-MEI")
    for codec, encoding in (("utf-8", "UTF-8"), ("utf-16", "UTF-16")):
        path = tmp_path / f"xxe-{codec}.mei"
        text = mei_text(encoding, doctype=f'<!DOCTYPE mei [<!ENTITY s SYSTEM '
                                           f'"{secret.as_uri()}">]>\n', title="&s;")
        path.write_bytes(text.encode(codec))
        message = _refused(path, "entit")
        assert "TOP-SECRET" not in message
    lol = tmp_path / "lol.mei"
    lol.write_text(mei_text(doctype='<!DOCTYPE mei [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;'
                                    '&a;&a;&a;&a;&a;&a;">]>\n', title="&b;"))
    _refused(lol, "entities")


def test_mei_that_is_not_mei_or_too_long(tmp_path):
    score = tmp_path / "score.mei"
    score.write_text(musicxml_text())
    _refused(score, "not an MEI document.*must be named .musicxml")
    long = tmp_path / "long.mei"
    long.write_text(mei_text().replace("<section>", "<section>" + '<measure n="9"/>' * 6000))
    _refused(long, "6002 bars, over the limit of 5000")


def test_romantext_that_copies_a_million_bars(tmp_path):
    path = tmp_path / "copies.rntxt"
    path.write_text("Composer: Nobody\nTitle: Copies\nTime Signature: 4/4\n\nm1 C: I\n"
                    "m2-1000000 = m1\n")
    _refused(path, "1000000 bars, over the limit of 5000")


# hypothesis (loaded by other test modules) times the garbage collector with a callback;
# a timer signal that lands there is reported as "ignored" and raised again 0.1 s later
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_music21_time_limit(tmp_path):
    # a piece music21 needs a few seconds for: the timer fires again every 0.1 s, so a
    # first signal that lands where Python ignores exceptions (a gc callback) is repeated
    path = M21 / "beethoven/opus18no1/movement2.krn"
    message = _refused(path, "music21 needed more than 0.01 s",
                       limits=Limits(max_read_seconds=0.01))
    assert "raise max_read_seconds" in message


def test_unknown_format_lists_the_known_ones(tmp_path):
    path = tmp_path / "piece.nwc"
    path.write_bytes(b"[NoteWorthy ArtWare]")
    _refused(path, r"unknown score format '.nwc'; give one of .mxl, .musicxml, .xml, .mid, "
                   r".midi, .krn, .mei, .abc, .rntxt, .mscx, .mscz")


# ------------------------------------------------------------------ the music21 corpus


def test_music21_corpus_names_every_piece_by_its_path():
    spec = get_spec("music21")
    files = spec.files()
    assert len(files) > 3000
    suffixes = {p.suffix for p in files}
    assert {".krn", ".abc", ".mxl", ".xml", ".rntxt"} <= suffixes
    names = spec.piece_names(files)
    assert "beethoven/opus18no3" in names.values()
    assert {"bach/bwv277.krn", "bach/bwv277.mxl"} <= set(names.values())
    assert find_piece("music21", "beethoven/opus18no3").name == "opus18no3.mxl"
    assert find_piece("music21", "bach/bwv277").suffix == ".mxl"  # MusicXML first
    assert find_piece("music21", "bach/bwv277.krn").suffix == ".krn"
    with pytest.raises(InputError, match=r"'beethoven/opus18no1' is a folder of 4 pieces "
                                         r"\(beethoven/opus18no1/movement1, "):
        find_piece("music21", "beethoven/opus18no1")
    with pytest.raises(InputError, match="names 12 pieces"):
        find_piece("music21", "movement1")


def test_corpus_piece_by_name_goes_through_the_reader():
    score = resolve_query("corpus:music21/beethoven/opus18no1/movement3.krn")
    conv = convert_score(score, meter="rebar")
    assert len(score.parts) == 4 and conv.bars.shape[0] > 50


def test_corpus_info_music21_on_a_sample(tmp_path, capsys):
    from qbdi_musicology.cli import main

    rc = main(["corpus", "info", "music21", "--sample", "6", "--seed", "3",
               "--cache-dir", str(tmp_path / "cache")])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "a sample of 6 of" in out and "pieces (seed 3)" in out and "formats:" in out
    assert "pieces: 6" in out


def test_every_tune_of_an_abc_collection_is_a_corpus_piece(tmp_path):
    from qbdi_musicology.corpus import load_corpus

    folder = tmp_path / "tunes"
    folder.mkdir()
    (folder / "three.abc").write_text(THREE_TUNES)
    (folder / "single.abc").write_text("X:4\nT:Alone\nM:4/4\nL:1/4\nK:C\nC D E F|G4|]\n")
    (folder / "cut.abc").write_text("X:1\nT:Reel\nM:4/")
    kw = dict(meter="rebar", cache_dir=tmp_path / "cache", progress=False)
    every = load_corpus(folder, **kw)
    assert every.pieces == ["single", "three#1", "three#2", "three#7"]
    assert every.skipped[0][0] == "cut" and "no K: (key) line" in every.skipped[0][1]
    assert every.formats == {".abc": [5, 4]}
    assert every.files[-1].endswith("three.abc#7")
    jig = every.piece_bars("three#7")
    assert jig.shape[0] == 2  # two 6/8 bars = one and a half 4/4 bars, rebarred
    again = load_corpus(folder, **kw)  # from the cache, tune by tune
    assert again.pieces == every.pieces and (again.bars == every.bars).all()
    assert again.cache_hits == 5
    first = load_corpus(folder, abc_tunes="first", **kw)
    assert first.pieces == ["single", "three"]
    sample = load_corpus(folder, sample=2, seed=1, **kw)
    assert sample.corpus_pieces == 5 and len(sample.pieces) + len(sample.skipped) == 2


def test_reading_files_does_not_import_the_naming_layer():
    """scoreio (files) < pieces (names) < corpus (bars): no module imports one above it."""
    import subprocess
    import sys

    code = ("import sys, importlib; importlib.import_module(sys.argv[1]); "
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('qbdi_musicology.'))))")
    loaded = {}
    for module in ("qbdi_musicology.scoreio", "qbdi_musicology.pieces"):
        out = subprocess.run([sys.executable, "-c", code, module], capture_output=True,
                             text=True, check=True, cwd=Path(__file__).resolve().parents[1])
        # the package's public door (qbdi_musicology.api) imports nothing at import time
        loaded[module] = set(out.stdout.split()) - {"qbdi_musicology.api"}
    assert loaded["qbdi_musicology.scoreio"] == {"qbdi_musicology.errors",
                                                 "qbdi_musicology.formats",
                                                 "qbdi_musicology.gcpause",
                                                 "qbdi_musicology.scoreio"}
    assert "qbdi_musicology.corpus" not in loaded["qbdi_musicology.pieces"]
    assert "qbdi_musicology.pianoroll" not in loaded["qbdi_musicology.pieces"]


def _notes(score) -> list[tuple[float, float, tuple[str, ...]]]:
    """(offset, length, pitches) of every note and chord, in score order."""
    return sorted((float(n.getOffsetInHierarchy(score)), float(n.quarterLength),
                   tuple(p.nameWithOctave for p in n.pitches))
                  for n in score.recurse().notes)


@pytest.mark.parametrize("source", ["krn", "abc", "utf16", "mei"])
def test_each_format_gives_the_notes_music21_gives(source, tmp_path):
    """The safe reader changes nothing: the same notes as music21.converter.parse."""
    from music21 import converter

    base = Path(getCorpusFilePath())
    if source == "krn":
        path = base / "bach" / "bwv277.krn"  # a Humdrum **kern chorale
    elif source == "abc":
        path = tmp_path / "tune.abc"
        path.write_text("X:1\nT:A reel\nM:4/4\nL:1/8\nK:G\nGABc d2e2|dBGB A2FA|G4 z4|]\n")
    elif source == "utf16":
        path = tmp_path / "bwv66.6-utf16.musicxml"
        text = (base / "bach" / "bwv66.6.mxl").read_bytes()
        with zipfile.ZipFile(io.BytesIO(text)) as archive:
            inner = next(n for n in archive.namelist() if n.endswith(".xml")
                         and not n.startswith("META-INF"))
            xml = archive.read(inner).decode("utf-8")
        path.write_bytes(xml.replace('encoding="UTF-8"', 'encoding="UTF-16"', 1)
                         .encode("utf-16"))
    else:
        path = tmp_path / "small.mei"
        path.write_bytes(mei_text("UTF-8").encode("utf-8"))
    ours = load_score(path)
    theirs = converter.parse(path)
    assert _notes(ours) and _notes(ours) == _notes(theirs)
