"""Build a MusicXML 4.0 document directly from a music21 score, without music21's exporter.

music21's exporter is general but slow for the scores this package writes by the thousand
(improvisations, annotated scores, overviews): it first copies the score, then notates it
(accidentals, beams) by changing music21 objects, then walks it again to write XML. Here the
score is only read: accidentals and beams are decided on the fly and the document is built
with ``lxml`` in one pass, several times faster for the same music.

It covers what the package's scores hold: parts and two-staff parts (``PartStaff`` joined
by a ``StaffGroup``), measures and voices, notes, chords and rests (hidden rests too), ties,
any duration music21 splits into tied notes, key and time signatures, clefs, barlines,
chord symbols and "N.C.", Roman numerals (as lyrics under the first note they apply to,
which MuseScore 3 shows), lyrics, fermatas, colours, text and rehearsal marks, tempo marks,
credits, staff size and metadata. A score holding anything else (tuplets, grace notes,
slurs, dynamics, articulations, mid-bar clef changes...) raises :class:`Unsupported`, and
:mod:`qbdi_musicology.musicxml` writes it with music21's exporter instead, so nothing is
ever lost: this module is a faster road to the same music, never a narrower one.

The caller (:func:`qbdi_musicology.musicxml.musicxml_bytes`) adds the provenance fields
and the page layout and repairs chord kinds and tempo marks on the result, exactly as it
does for music21's output.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Iterable

from lxml.etree import SubElement as _SubElement

#: Divisions per quarter note: the least common multiple of the usual subdivisions
#: (music21 uses the same number), so every duration of a score is a whole number.
DIVISIONS = 10080

#: Alterations to MusicXML accidental names.
_ACCIDENTALS = {0: "natural", 1: "sharp", -1: "flat", 2: "double-sharp", -2: "flat-flat"}
#: Note types that take beams, with their number of beams.
_BEAMS = {"eighth": 1, "16th": 2, "32nd": 3, "64th": 4, "128th": 5}
_SYLLABIC = frozenset(("single", "begin", "end", "middle"))
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
_EPS = 1e-9


class Unsupported(Exception):
    """The score holds something this builder does not write; music21's exporter will."""


# ----------------------------------------------------------------------------------------
# small helpers


def _num(value: float) -> str:
    """A number as MusicXML text: ``7.0 -> '7'``, ``4.6 -> '4.6'``."""
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _sub(parent, tag: str, text: Any = None, **attrs):
    if attrs:
        el = _SubElement(parent, tag, {k.replace("_", "-"): str(v) for k, v in attrs.items()
                                       if v is not None})
    else:
        el = _SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


def _divisions(quarters: float) -> int:
    exact = float(quarters) * DIVISIONS
    whole = round(exact)
    if abs(exact - whole) > 1e-6:
        raise Unsupported(f"a duration of {quarters} quarters is not a whole number of divisions")
    return whole


def _colour(el) -> str | None:
    if not el.hasStyleInformation:
        return None
    return el.style.color or None


def _text_style(target, el, *, align: bool = False) -> None:
    """Copy an object's text style (colour, font, alignment) onto an XML element."""
    if not el.hasStyleInformation:
        return
    st = el.style
    # music21 keeps "bold" and "bolditalic" as font styles; MusicXML splits style and weight
    font_style = getattr(st, "fontStyle", None)
    weight = getattr(st, "fontWeight", None)
    if font_style in ("bold", "bolditalic"):
        weight = "bold"
        font_style = "italic" if font_style == "bolditalic" else None
    if font_style not in (None, "normal", "italic"):
        font_style = None
    if weight not in (None, "normal", "bold"):
        weight = None
    for attr, value in (("color", getattr(st, "color", None)),
                        ("font-size", getattr(st, "fontSize", None)),
                        ("font-style", font_style),
                        ("font-weight", weight),
                        ("justify", getattr(st, "justify", None)),
                        ("enclosure", getattr(st, "enclosure", None))):
        if value not in (None, ""):
            target.set(attr, _num(value) if attr == "font-size" else str(value))
    if align:
        for attr, value in (("halign", getattr(st, "alignHorizontal", None)),
                            ("valign", getattr(st, "alignVertical", None))):
            if value not in (None, ""):
                target.set(attr, str(value))


# ----------------------------------------------------------------------------------------
# the score's shape: units (a part, or PartStaffs joined on one brace) and groups


def _shape(score):
    """(units, groups, text boxes, scaling) of a score; each unit is a list of staves."""
    from music21 import layout, metadata, stream, text

    if not isinstance(score, stream.Score):
        raise Unsupported("not a Score")
    parts, staff_groups, boxes, scaling = [], [], [], None
    for el in score.elements:
        if isinstance(el, stream.Part):
            parts.append(el)
        elif isinstance(el, layout.StaffGroup):
            staff_groups.append(el)
        elif isinstance(el, text.TextBox):
            boxes.append(el)
        elif isinstance(el, layout.ScoreLayout):
            scaling = scaling or el
        elif isinstance(el, (metadata.Metadata, layout.LayoutBase)):
            continue
        else:
            raise Unsupported(f"a {type(el).__name__} at the score's top level")
    staff_groups += [s for s in score.spannerBundle if isinstance(s, layout.StaffGroup)
                     and s not in staff_groups]
    if not parts:
        raise Unsupported("no parts")
    index = {id(p): i for i, p in enumerate(parts)}
    joined: dict[int, int] = {}  # first part index -> last, for PartStaffs on one staff group
    brackets = []
    for group in staff_groups:
        members = [index.get(id(p)) for p in group.getSpannedElements()]
        if not members or None in members:
            raise Unsupported("a staff group of parts not in the score")
        members = sorted(set(members))
        if members != list(range(members[0], members[-1] + 1)):
            raise Unsupported("a staff group of parts that are not neighbours")
        if len(members) > 1 and all(isinstance(parts[i], stream.PartStaff) for i in members):
            joined[members[0]] = members[-1]
        else:
            brackets.append((members[0], members[-1], group))
    units, i = [], 0
    unit_of = {}
    while i < len(parts):
        last = joined.get(i, i)
        for k in range(i, last + 1):
            unit_of[k] = len(units)
        units.append(parts[i:last + 1])
        i = last + 1
    groups = []
    for first, last, group in brackets:
        if unit_of[first] == unit_of[last] and len(units[unit_of[first]]) > 1:
            continue  # a bracket around one joined part: the part's own brace says it
        groups.append((unit_of[first], unit_of[last], group))
    return units, groups, boxes, scaling


# ----------------------------------------------------------------------------------------
# header


def _header(root, score, units, groups, boxes, scaling) -> None:
    from music21 import defaults as m21defaults
    md = score.metadata
    title = md.title if md is not None else None
    if title:
        work = _sub(root, "work")
        _sub(work, "work-title", title)
    if md is not None and md.movementNumber:
        _sub(root, "movement-number", md.movementNumber)
    movement = (md.movementName if md is not None else None) or title
    if movement:
        _sub(root, "movement-title", movement)
    ident = _sub(root, "identification")
    if md is not None:
        for contributor in md.contributors:
            _sub(ident, "creator", contributor.name, type=contributor.role)
        for rights in md["copyright"]:
            _sub(ident, "rights", str(rights))
    encoding = _sub(ident, "encoding")
    _sub(encoding, "software", "qbdi-musicology")
    _sub(encoding, "supports", element="accidental", type="yes")
    _sub(encoding, "supports", element="beam", type="yes")
    _sub(encoding, "supports", element="stem", type="no")
    if md is not None:
        misc = None
        skipped: set[str] = set()
        for name, value in md.all(skipContributors=True, returnPrimitives=True,
                                  returnSorted=False):
            if name in ("software", "copyright"):
                continue
            if name in ("title", "movementName", "movementNumber") and name not in skipped:
                skipped.add(name)  # the first of each is written above
                continue
            space = md.uniqueNameToNamespaceName(name) or name
            if space.startswith("m21FileInfo:"):
                continue
            if misc is None:
                misc = _sub(ident, "miscellaneous")
            _sub(misc, "miscellaneous-field", str(value), name=space)
    defaults = _sub(root, "defaults")
    mm = m21defaults.scalingMillimeters
    tenths = m21defaults.scalingTenths
    if scaling is not None and scaling.scalingMillimeters:
        mm, tenths = scaling.scalingMillimeters, scaling.scalingTenths or tenths
    sc = _sub(defaults, "scaling")
    _sub(sc, "millimeters", _num(mm))
    _sub(sc, "tenths", _num(tenths))
    for box in boxes:
        credit = _sub(root, "credit", page=box.page if box.page is not None else 1)
        words = _sub(credit, "credit-words", box.content)
        if "\n" in box.content:
            words.set(_XML_SPACE, "preserve")
        if box.hasStyleInformation:
            st = box.style
            for attr, value in (("default-x", st.absoluteX), ("default-y", st.absoluteY)):
                if value is not None:
                    words.set(attr, _num(value))
        _text_style(words, box, align=True)
    part_list = _sub(root, "part-list")
    starts: dict[int, list] = {}
    stops: dict[int, list] = {}
    for number, (first, last, group) in enumerate(groups, 1):
        starts.setdefault(first, []).append((number, group))
        stops.setdefault(last, []).append(number)
    for u, unit in enumerate(units):
        for number, group in starts.get(u, []):
            pg = _sub(part_list, "part-group", number=number, type="start")
            if group.name:
                _sub(pg, "group-name", group.name)
            if group.abbreviation:
                _sub(pg, "group-abbreviation", group.abbreviation)
            if group.symbol:
                _sub(pg, "group-symbol", group.symbol)
            barline = {True: "yes", False: "no"}.get(group.barTogether, group.barTogether)
            if barline:
                _sub(pg, "group-barline", barline)
        sp = _sub(part_list, "score-part", id=f"P{u + 1}")
        _sub(sp, "part-name", unit[0].partName or "")
        if unit[0].partAbbreviation:
            _sub(sp, "part-abbreviation", unit[0].partAbbreviation)
        for number in stops.get(u, []):
            _sub(part_list, "part-group", number=number, type="stop")


# ----------------------------------------------------------------------------------------
# the music


class _Staff:
    """One staff's bars and what it carries from bar to bar: the key and the meter."""

    def __init__(self, part) -> None:
        self.part = part
        self.measures = list(part.getElementsByClass("Measure"))
        self.key_alters: dict[str, int] = {}
        self.meter = None


def _numeral_lyrics(part, measures) -> dict[int, list[str]]:
    """Roman numerals of a part as lyrics: note id -> figures, on the first note at or after."""
    from music21 import harmony, note, roman

    numerals, notes = [], []
    for m in measures:
        start = float(part.elementOffset(m))
        for el, offset in _contents(m):
            if isinstance(el, roman.RomanNumeral):
                numerals.append((start + offset, el.figure))
            elif isinstance(el, note.NotRest) and not isinstance(el, harmony.Harmony):
                notes.append((start + offset, id(el)))
    if not numerals:
        return {}
    notes.sort(key=lambda item: item[0])
    out: dict[int, list[str]] = {}
    j = 0
    for offset, figure in sorted(numerals, key=lambda item: item[0]):
        while j < len(notes) and notes[j][0] < offset - _EPS:
            j += 1
        if j < len(notes):
            out.setdefault(notes[j][1], []).append(figure)
    return out


def _contents(measure) -> Iterable[tuple[Any, float]]:
    """(element, offset in the measure) of a measure and its voices."""
    from music21 import stream
    for el in measure.elements:
        if isinstance(el, stream.Voice):
            base = float(measure.elementOffset(el))
            for inner in el.elements:
                yield inner, base + float(el.elementOffset(inner))
        else:
            yield el, float(measure.elementOffset(el))


def _key_alters(ks) -> dict[str, int]:
    return {p.step: int(p.alter) for p in ks.alteredPitches}


def _components(el) -> list[tuple[str, int, float]]:
    """(type, dots, quarters) of each written note an element becomes."""
    d = el.duration
    if d.isGrace:
        raise Unsupported("grace notes")
    if getattr(d, "_componentsNeedUpdating", False) and not d._tuplets:
        # a length set as a number: music21 would work out its note values now and tell
        # every stream holding the note that it changed; the same values, remembered
        return _values_of(d.quarterLength)
    if d.tuplets:
        raise Unsupported("tuplets")
    return _checked([(c.type, c.dots, float(c.quarterLength)) for c in d.components],
                    d.quarterLength)


@lru_cache(maxsize=512)
def _values_of(quarters) -> list[tuple[str, int, float]]:
    from music21 import duration
    conversion = duration.quarterConversion(quarters)
    if conversion.tuplet is not None:
        raise Unsupported("tuplets")
    return _checked([(c.type, c.dots, float(c.quarterLength))
                     for c in conversion.components], quarters)


def _checked(values, quarters):
    if not values or float(quarters) <= 0:
        raise Unsupported("a note without duration")
    for kind, _, _ in values:
        if kind in ("zero", "inexpressible", "complex"):
            raise Unsupported(f"a duration of {quarters} quarters")
    return values


def _tie_types(tie, k: int, count: int) -> list[str]:
    """Tie types of the k-th of ``count`` written notes of a note (stop before start)."""
    kind = tie.type if tie is not None else None
    if kind == "let-ring":
        kind = None
    types = []
    if k > 0 or kind in ("stop", "continue"):
        types.append("stop")
    if k < count - 1 or kind in ("start", "continue"):
        types.append("start")
    return types


def _place(element, offset: float, staff) -> None:
    """A direction's or chord symbol's distance from the voice's position, and its staff."""
    if abs(offset) > _EPS:
        _sub(element, "offset", _divisions(offset), sound="yes")
    if staff is not None:
        _sub(element, "staff", staff)


class _Event:
    """One written note, chord or rest of a voice."""

    __slots__ = ("el", "offset", "kind", "dots", "quarters", "k", "count", "beams")

    def __init__(self, el, offset, kind, dots, quarters, k, count) -> None:
        self.el, self.offset, self.kind, self.dots = el, offset, kind, dots
        self.quarters, self.k, self.count = quarters, k, count
        self.beams: list[tuple[int, str]] = []


def _beam_groups(meter) -> float:
    """Length in quarters of the beat groups eighths are beamed in."""
    if meter is None:
        return 1.0
    if meter.denominator >= 8 and meter.numerator % 3 == 0:
        return 3 * 4.0 / meter.denominator  # compound meters: dotted beats
    return 1.0


def _set_beams(events: list[_Event], group: float, shift: float) -> None:
    """Beam eighths and shorter within each beat group, as an engraver would."""
    from music21 import note

    run: list[_Event] = []
    current = None

    def close() -> None:
        if len(run) > 1:
            levels = max(_BEAMS[e.kind] for e in run)
            for level in range(1, levels + 1):
                on = [_BEAMS[e.kind] >= level for e in run]
                i = 0
                while i < len(run):
                    if not on[i]:
                        i += 1
                        continue
                    j = i
                    while j + 1 < len(run) and on[j + 1]:
                        j += 1
                    if j > i:
                        run[i].beams.append((level, "begin"))
                        for e in run[i + 1:j]:
                            e.beams.append((level, "continue"))
                        run[j].beams.append((level, "end"))
                    elif level > 1:
                        run[i].beams.append((level, "forward hook" if i == 0
                                             else "backward hook"))
                    i = j + 1
        run.clear()

    for e in events:
        beamable = e.kind in _BEAMS and not isinstance(e.el, note.Rest)
        where = math.floor((e.offset + shift) / group + _EPS)
        if not beamable or where != current:
            close()
        current = where
        if beamable:
            run.append(e)
    close()


class _Builder:
    """Writes the parts of one document; remembers per part which notes show accidentals
    and which carry a Roman numeral as a lyric."""

    def __init__(self, root) -> None:
        self.root = root
        self.shown: dict[tuple[int, int], str] = {}
        self.numerals: dict[int, list[str]] = {}

    # -- a unit (one <part>) ---------------------------------------------------------

    def part(self, unit, number: int) -> None:
        from music21 import stream
        staves = [_Staff(p) for p in unit]
        count = len(staves[0].measures)
        if any(len(s.measures) != count for s in staves):
            raise Unsupported("staves of one part with different numbers of bars")
        self.shown = {}
        self.numerals = {}
        for s in staves:
            for el in s.part.elements:
                if not isinstance(el, stream.Measure) and not _ignorable(el):
                    raise Unsupported(f"a {type(el).__name__} outside the bars of a part")
            self.numerals.update(_numeral_lyrics(s.part, s.measures))
        xml_part = _sub(self.root, "part", id=f"P{number}")
        for i in range(count):
            self.measure(xml_part, staves, i)

    def measure(self, xml_part, staves: list[_Staff], i: int) -> None:
        first = staves[0].measures[i]
        number = str(first.number) + (first.numberSuffix or "")
        xm = _sub(xml_part, "measure", number=number)
        joined = len(staves) > 1
        attrs = None

        def attributes():
            nonlocal attrs
            if attrs is None:
                attrs = _sub(xm, "attributes")
            return attrs

        if i == 0:
            _sub(attributes(), "divisions", DIVISIONS)
        plans = []
        for s_index, staff in enumerate(staves):
            plans.append(self.plan(staff, staff.measures[i], s_index + 1 if joined else None))
        # attributes: key, time (of the first staff), then the staves and clefs
        key = next((p["key"] for p in plans if p["key"] is not None), None)
        if key is not None:
            xk = _sub(attributes(), "key")
            _sub(xk, "fifths", key.sharps)
            mode = getattr(key, "mode", None)
            if mode in ("major", "minor"):
                _sub(xk, "mode", mode)
        meter = next((p["meter"] for p in plans if p["meter"] is not None), None)
        if meter is not None:
            xt = _sub(attributes(), "time")
            if meter.symbol in ("common", "cut"):
                xt.set("symbol", meter.symbol)
            _sub(xt, "beats", meter.numerator)
            _sub(xt, "beat-type", meter.denominator)
        if i == 0 and joined:
            _sub(attributes(), "staves", len(staves))
        for p in plans:
            clef = p["clef"]
            if clef is None:
                continue
            xc = _sub(attributes(), "clef", number=p["staff"])
            if clef.sign is None:
                raise Unsupported(f"a {type(clef).__name__}")
            _sub(xc, "sign", clef.sign)
            if clef.line is not None and clef.sign != "percussion":
                _sub(xc, "line", clef.line)
            if clef.octaveChange:
                _sub(xc, "clef-octave-change", clef.octaveChange)
        left = first.leftBarline
        if left is not None:
            self.barline(xm, left, "left")
        voice_number = 1
        for p in plans:
            for events, items in p["voices"]:
                self.voice(xm, events, items, str(voice_number), p["staff"])
                voice_number += 1
        right = first.rightBarline
        if right is not None:
            self.barline(xm, right, "right")

    def barline(self, xm, barline, location: str) -> None:
        from music21 import bar as m21bar
        if isinstance(barline, m21bar.Repeat):
            raise Unsupported("repeat barlines")
        style = m21bar.typeToMusicXMLBarStyle(barline.type)
        if location == "right" and style == "regular":
            return
        xb = _sub(xm, "barline", location=location)
        _sub(xb, "bar-style", style)

    def plan(self, staff: _Staff, measure, number: int | None) -> dict:
        """Everything of one staff's bar, sorted into voices, before any XML is written."""
        from music21 import (bar, clef, expressions, harmony, key, layout, meter, note,
                             roman, stream, tempo)
        plan = {"key": None, "meter": None, "clef": None, "staff": number, "voices": []}
        voices = [v for v in measure.elements if isinstance(v, stream.Voice)]
        loose_notes = False
        items: list[tuple[float, Any]] = []  # directions and chord symbols of the bar
        streams = [(measure, 0.0)] + [(v, float(measure.elementOffset(v))) for v in voices]
        for container, base in streams:
            for el in container.elements:
                if isinstance(el, stream.Voice):
                    continue
                offset = base + float(container.elementOffset(el))
                if isinstance(el, harmony.Harmony) or isinstance(el, (
                        expressions.TextExpression, expressions.RehearsalMark,
                        tempo.MetronomeMark)):
                    items.append((offset, el))
                elif isinstance(el, roman.RomanNumeral):
                    continue  # written as lyrics (see _numeral_lyrics)
                elif isinstance(el, note.GeneralNote):
                    if container is measure:
                        loose_notes = True
                elif isinstance(el, key.KeySignature):
                    if offset > _EPS:
                        raise Unsupported("a key change inside a bar")
                    plan["key"] = el
                    staff.key_alters = _key_alters(el)
                elif isinstance(el, meter.TimeSignature):
                    if offset > _EPS:
                        raise Unsupported("a meter change inside a bar")
                    if len(el.displaySequence) > 1:
                        raise Unsupported("an additive meter")
                    plan["meter"] = el
                    staff.meter = el
                elif isinstance(el, clef.Clef):
                    if offset > _EPS:
                        raise Unsupported("a clef change inside a bar")
                    plan["clef"] = el
                elif isinstance(el, bar.Barline) or _ignorable(el) or isinstance(
                        el, layout.LayoutBase):
                    continue
                else:
                    raise Unsupported(f"a {type(el).__name__} in a bar")
        if loose_notes and voices:
            raise Unsupported("notes beside voices in one bar")
        shift = float(measure.paddingLeft or 0.0)
        group = _beam_groups(staff.meter)
        sources = voices if voices else [measure]
        all_events = []
        for v_index, source in enumerate(sources):
            base = 0.0 if source is measure else float(measure.elementOffset(source))
            events = []
            for el in source.elements:
                if not isinstance(el, note.GeneralNote) or isinstance(
                        el, (harmony.Harmony, roman.RomanNumeral)):
                    continue
                if isinstance(el, note.Unpitched) or (
                        not isinstance(el, note.Rest) and not el.pitches):
                    raise Unsupported("unpitched notes")
                for expr in el.expressions:
                    if not isinstance(expr, expressions.Fermata):
                        raise Unsupported(f"a {type(expr).__name__} on a note")
                for art in el.articulations:
                    if type(art) not in _articulation_tags() and \
                            type(art) not in _technical_tags():
                        raise Unsupported(f"a {type(art).__name__} on a note")
                offset = base + float(source.elementOffset(el))
                if isinstance(el, note.Rest) and _whole_bar_rest(el, staff.meter):
                    events.append(_Event(el, offset, "measure", 0, float(el.quarterLength),
                                         0, 1))
                    continue
                parts = _components(el)
                for k, (kind, dots, quarters) in enumerate(parts):
                    events.append(_Event(el, offset, kind, dots, quarters, k, len(parts)))
                    offset += quarters
            _set_beams(events, group, shift)
            all_events.extend(events)
            plan["voices"].append((events, items if v_index == 0 else []))
        self.decide_accidentals(staff, all_events)
        return plan

    def decide_accidentals(self, staff: _Staff, events: list[_Event]) -> None:
        """Which notes show an accidental, from the key and the notes before in the bar."""
        from music21 import note
        memory: dict[tuple[str, int], int] = {}  # (step, octave) -> alteration in force
        for e in sorted(events, key=lambda e: e.offset):
            if isinstance(e.el, note.Rest):
                continue
            members = e.el.notes if e.el.isChord else [e.el]
            for member in members:
                p = member.pitch
                alter = p.alter
                if alter != int(alter) or abs(alter) > 2:
                    raise Unsupported("microtones")
                alter = int(alter)
                octave = p.octave if p.octave is not None else p.implicitOctave
                slot = (p.step, octave)
                tie = member.tie  # a chord's own tie is its first note's: each note has its own
                continued = e.k > 0 or (tie is not None and tie.type in ("stop", "continue"))
                before = memory.get(slot, staff.key_alters.get(p.step, 0))
                if not continued and alter != before:
                    self.shown[(id(member), e.k)] = _ACCIDENTALS[alter]
                memory[slot] = alter

    # -- a voice -----------------------------------------------------------------------

    def voice(self, xm, events: list[_Event], items, voice: str, staff) -> None:
        pos = 0.0
        queue = sorted(items, key=lambda item: item[0])
        q = 0

        def flush(until: float) -> None:
            nonlocal q
            while q < len(queue) and queue[q][0] <= until + _EPS:
                self.item(xm, queue[q][1], queue[q][0] - pos, staff)
                q += 1

        for e in events:
            flush(e.offset)
            if e.offset > pos + _EPS:
                fw = _sub(xm, "forward")
                _sub(fw, "duration", _divisions(e.offset - pos))
                _sub(fw, "voice", voice)
                if staff is not None:
                    _sub(fw, "staff", staff)
                pos = e.offset
            elif e.offset < pos - _EPS:
                raise Unsupported("overlapping notes in one voice")
            self.note(xm, e, voice, staff)
            pos = e.offset + e.quarters
        flush(math.inf)
        if pos > _EPS:
            back = _sub(xm, "backup")
            _sub(back, "duration", _divisions(pos))

    def item(self, xm, el, offset: float, staff) -> None:
        from music21 import harmony, tempo
        if isinstance(el, harmony.NoChord):
            direction = _sub(xm, "direction", placement="above")
            _sub(_sub(direction, "direction-type"), "words", el.chordKindStr or "N.C.")
        elif isinstance(el, harmony.ChordSymbol):
            self.harmony(xm, el, offset, staff)
            return
        elif isinstance(el, harmony.Harmony):
            raise Unsupported(f"a {type(el).__name__}")
        elif isinstance(el, tempo.MetronomeMark):
            self.tempo(xm, el, offset, staff)
            return
        else:
            from music21 import expressions
            direction = _sub(xm, "direction")
            placement = getattr(el, "placement", None)
            if placement:
                direction.set("placement", placement)
            dtype = _sub(direction, "direction-type")
            if isinstance(el, expressions.RehearsalMark):
                words = _sub(dtype, "rehearsal", el.content)
                _text_style(words, el, align=True)
            else:
                words = _sub(dtype, "words", el.content)
                if "\n" in el.content:
                    words.set(_XML_SPACE, "preserve")
                _text_style(words, el)
        _place(direction, offset, staff)

    def tempo(self, xm, mark, offset: float, staff) -> None:
        direction = _sub(xm, "direction")
        placement = getattr(mark, "placement", None)
        if placement:
            direction.set("placement", placement)
        dtype = _sub(direction, "direction-type")
        if mark.numberImplicit or mark.number is None:
            _sub(dtype, "words")
        else:
            metro = _sub(dtype, "metronome", parentheses="yes" if getattr(
                mark, "parentheses", False) else "no")
            ref = mark.referent
            if ref.type in ("complex", "inexpressible", "zero") or ref.tuplets:
                # a beat no single note value shows (an ABC "Q:5/4=50"): the same speed
                # in quarter notes
                _sub(metro, "beat-unit", "quarter")
                _sub(metro, "per-minute", _num(round(mark.getQuarterBPM(), 2)))
            else:
                _sub(metro, "beat-unit", ref.type)
                for _ in range(ref.dots):
                    _sub(metro, "beat-unit-dot")
                _sub(metro, "per-minute", _num(mark.number))
        _place(direction, offset, staff)
        bpm = mark.getQuarterBPM()
        if bpm:
            _sub(direction, "sound", tempo=_num(bpm))
        words = mark.getTextExpression(returnImplicit=False)
        if words is not None:
            self.item(xm, words, offset, staff)

    def harmony(self, xm, cs, offset: float, staff) -> None:
        xh = _sub(xm, "harmony")
        placement = getattr(cs, "placement", None)
        if placement:
            xh.set("placement", placement)
        colour = _colour(cs)
        if colour:
            xh.set("color", colour)
        if cs._roman is not None:  # a chord symbol that names a function
            raise Unsupported("a chord symbol given as a function")
        root = cs.root()
        if root is None:
            raise Unsupported("a chord symbol without a root")
        xr = _sub(xh, "root")
        _sub(xr, "root-step", root.step)
        if root.accidental is not None and root.accidental.alter:
            _sub(xr, "root-alter", _num(root.accidental.alter))
        # music21's kind names; those outside the schema are mapped afterwards, as for
        # music21's own output (musicxml.KIND_FIXES)
        xk = _sub(xh, "kind", cs.chordKind or "none")
        if cs.chordKindStr:
            xk.set("text", cs.chordKindStr)
        inversion = cs.inversion()
        if inversion not in (None, 0):
            _sub(xh, "inversion", inversion)
        bass = cs.bass(find=False) or cs.bass(find=True)
        if bass is not None and bass.name != root.name:
            xb = _sub(xh, "bass")
            _sub(xb, "bass-step", bass.step)
            if bass.accidental is not None and bass.accidental.alter:
                _sub(xb, "bass-alter", _num(bass.accidental.alter))
        for mod in cs.getChordStepModifications():
            xd = _sub(xh, "degree")
            _sub(xd, "degree-value", mod.degree)
            _sub(xd, "degree-alter", mod.interval.chromatic.directed if mod.interval else 0)
            _sub(xd, "degree-type", mod.modType)
        _place(xh, offset, staff)

    # -- a note ------------------------------------------------------------------------

    def note(self, xm, e: _Event, voice: str, staff) -> None:
        from music21 import expressions, note
        el = e.el
        duration = _divisions(e.quarters)
        if isinstance(el, note.Rest):
            xn = _sub(xm, "note")
            if el.hasStyleInformation and el.style.hideObjectOnPrint:
                xn.set("print-object", "no")
            colour = _colour(el)
            if colour:
                xn.set("color", colour)
            _sub(xn, "rest", measure="yes" if e.kind == "measure" else None)
            _sub(xn, "duration", duration)
            _sub(xn, "voice", voice)
            if e.kind != "measure":
                _sub(xn, "type", e.kind)
            for _ in range(e.dots):
                _sub(xn, "dot")
            if staff is not None:
                _sub(xn, "staff", staff)
            self.notations(xn, el, e, [])
            return
        members = el.notes if el.isChord else [el]
        chord_colour = _colour(el)
        lyrics = [(ly.number, ly.syllabic, ly.text) for ly in el.lyrics] if e.k == 0 else []
        if e.k == 0:
            for figure in self.numerals.get(id(el), []):
                lyrics.append((len(lyrics) + 1, "single", figure))
        for index, member in enumerate(members):
            xn = _sub(xm, "note")
            colour = _colour(member) if member is not el else None
            colour = colour or chord_colour
            if colour:
                xn.set("color", colour)
            if index:
                _sub(xn, "chord")
            p = member.pitch
            xp = _sub(xn, "pitch")
            _sub(xp, "step", p.step)
            if p.alter:
                _sub(xp, "alter", _num(p.alter))
            _sub(xp, "octave", p.octave if p.octave is not None else p.implicitOctave)
            _sub(xn, "duration", duration)
            own = member.tie
            ties = _tie_types(own, e.k, e.count)
            for t in ties:
                _sub(xn, "tie", type=t)
            _sub(xn, "voice", voice)
            _sub(xn, "type", e.kind)
            for _ in range(e.dots):
                _sub(xn, "dot")
            shown = self.shown.get((id(member), e.k))
            if shown:
                _sub(xn, "accidental", shown)
            if colour:
                _sub(xn, "notehead", "normal", color=colour, parentheses="no")
            if staff is not None:
                _sub(xn, "staff", staff)
            if index == 0:
                for level, kind in e.beams:
                    _sub(xn, "beam", kind, number=level)
            fermata = index == 0 and e.k == e.count - 1 and any(
                isinstance(x, expressions.Fermata) for x in el.expressions)
            self.notations(xn, el, e, ties, fermata)
            if index == 0:
                for number, syllabic, text in lyrics:
                    xl = _sub(xn, "lyric", number=number, name=number)
                    if syllabic not in _SYLLABIC:
                        syllabic = "single"  # e.g. two elided syllables, shown as one
                    _sub(xl, "syllabic", syllabic)
                    _sub(xl, "text", text)

    def notations(self, xn, el, e: _Event, ties: list[str], fermata: bool = False) -> None:
        marks = el.articulations if e.k == 0 else []
        if not ties and not fermata and not marks:
            return
        xs = _sub(xn, "notations")
        for t in ties:
            _sub(xs, "tied", type=t)
        if marks:
            for group, tags in (("articulations", _articulation_tags()),
                                ("technical", _technical_tags())):
                mine = [tags[type(a)] for a in marks if type(a) in tags]
                if mine:
                    xa = _sub(xs, group)
                    for tag in mine:
                        _sub(xa, tag)
        if fermata:
            from music21 import expressions
            f = next(x for x in el.expressions if isinstance(x, expressions.Fermata))
            _sub(xs, "fermata", type=f.type or "upright")


def _articulation_tags() -> dict:
    """music21 articulation classes -> MusicXML element names (music21's own table)."""
    from music21.musicxml.xmlObjects import ARTICULATION_MARKS_REV
    return ARTICULATION_MARKS_REV


@lru_cache(maxsize=1)
def _technical_tags() -> dict:
    """Bowings and other marks without text (music21's table; fingerings and harmonics,
    which carry more than a sign, are left to music21's exporter)."""
    from music21.musicxml.xmlObjects import TECHNICAL_MARKS_REV
    return {cls: tag for cls, tag in TECHNICAL_MARKS_REV.items()
            if tag in ("up-bow", "down-bow", "open-string", "stopped", "snap-pizzicato",
                       "thumb-position", "double-tongue", "triple-tongue")}


def _whole_bar_rest(rest, meter) -> bool:
    """A rest written as a whole-bar rest (MusicXML ``measure="yes"``), as music21 decides."""
    if rest.fullMeasure in (True, "always"):
        return True
    return (rest.fullMeasure == "auto" and meter is not None
            and meter.barDuration.quarterLength == rest.duration.quarterLength)


def _ignorable(el) -> bool:
    """Objects that carry nothing a reader of the score sees (instruments, layout hints).

    Staff groups are read from the score (see :func:`_shape`); any other spanner (a slur,
    a motif's bracket) is drawn, so it is not ignorable: the score goes to music21's
    exporter.
    """
    from music21 import instrument, layout
    return isinstance(el, (instrument.Instrument, layout.LayoutBase, layout.StaffGroup))


def build(score):
    """The MusicXML ``<score-partwise>`` element of ``score`` (see the module text).

    Raises :class:`Unsupported` for a score holding what this builder does not write.
    """
    from lxml import etree
    units, groups, boxes, scaling = _shape(score)
    root = etree.Element("score-partwise", version="4.0")
    _header(root, score, units, groups, boxes, scaling)
    builder = _Builder(root)
    for number, unit in enumerate(units, 1):
        builder.part(unit, number)
    return root
