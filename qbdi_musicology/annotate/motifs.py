"""Mark the motifs of a VMO analysis in the score, so MuseScore shows them.

Each motif gets a colour; every note that sounds inside one of its statements is drawn in
that colour (in all parts), and each statement is labelled "A1", "A2"... above the top
staff at its first beat, with a bracket over the top staff from its first to its last note.
MuseScore 3.2.3 keeps note colours, draws the labels (``<words>`` directions; it ignores
their colour) and draws the brackets as lines with end hooks.

Example::

    from music21 import corpus
    from qbdi_musicology.analysis.dynamics import analyse_score
    score = corpus.parse("bwv66.6")
    marked = annotate_motifs(score, analyse_score(score))
    write_motif_score(marked, "bwv66_motifs.musicxml")
"""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path

from ..analysis.dynamics import Dynamics, analysed_parts

log = logging.getLogger(__name__)

#: Motif colours, in motif order (A, B, C...), cycling; colour-blind-safe and dark enough
#: to read as note heads on white. The figures use the same colours.
MOTIF_COLOURS = ("#D55E00", "#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9",
                 "#882255", "#117733", "#332288", "#AA4499")


def motif_colour(index: int) -> str:
    """Colour of the ``index``-th motif (0 = A)."""
    return MOTIF_COLOURS[index % len(MOTIF_COLOURS)]


def _spans(dynamics: Dynamics):
    """(motif index, occurrence, start, end) in quarter notes, for every statement."""
    fr = dynamics.frames
    for k, motif in enumerate(dynamics.motifs):
        for occ in motif.occurrences:
            start = float(fr.offsets[occ.start])
            end = float(fr.offsets[occ.stop - 1] + fr.durations[occ.stop - 1])
            yield k, occ, start, end


def _measure_at(part, offset: float):
    from music21 import stream
    for m in part.getElementsByClass(stream.Measure):
        m_start = float(m.offset)
        if m_start - 1e-9 <= offset < m_start + float(m.duration.quarterLength) - 1e-9:
            return m
    return None


def annotate_motifs(score, dynamics: Dynamics, *, brackets: bool = True):
    """A copy of ``score`` with the motifs of ``dynamics`` coloured and labelled.

    ``dynamics`` must come from this score (:func:`analyse_score`), so that its frames'
    offsets are the score's. The input score is not changed. Overlapping statements of
    different motifs: the notes take the colour of the later motif (B over A).

    Only the analysed parts are marked (:func:`analysed_parts`: not the query staves that
    ``qbdi sweep`` shows under an improvisation).

    Example: with motif A stated at bar 2 and bar 4, the notes of bars 2 and 4 (for the
    motif's length) turn orange and "A1", "A2" appear above the soprano.
    """
    from music21 import expressions, spanner

    marked = copy.deepcopy(score)
    parts = analysed_parts(marked)  # not the query staves shown under an improvisation
    spans = list(_spans(dynamics))
    if not spans:
        return marked
    # colour every sounding note inside a statement, in every part
    for part in parts:
        for element in part.recurse().notes:
            onset = float(element.getOffsetInHierarchy(part))
            for k, _occ, start, end in spans:
                if start - 1e-9 <= onset < end - 1e-9:
                    element.style.color = motif_colour(k)
    # labels and brackets on the top part
    top = parts[0]
    for k, occ, start, end in spans:
        measure = _measure_at(top, start)
        if measure is None:
            log.info("no bar at offset %s for %s; label skipped", start, occ.label)
            continue
        text = expressions.TextExpression(occ.label)
        text.placement = "above"
        text.style.fontWeight = "bold"
        measure.insert(start - float(measure.offset), text)
        if brackets:
            notes = [n for n in top.recurse().notes
                     if start - 1e-9 <= float(n.getOffsetInHierarchy(top)) < end - 1e-9]
            if len(notes) >= 2:
                line = spanner.Line(notes[0], notes[-1], lineType="solid",
                                    startTick="down", endTick="down")
                line.placement = "above"
                top.insert(0, line)
    return marked


def write_motif_score(marked, path: str | os.PathLike, *, fields: dict | None = None) -> Path:
    """Write a motif-annotated score as MusicXML (valid 4.0, opens in MuseScore 3).

    ``fields`` (e.g. ``{"vmo_threshold": 0.57}``) are recorded as provenance.
    """
    from ..musicxml import write_musicxml
    return write_musicxml(marked, path, fields=fields)
