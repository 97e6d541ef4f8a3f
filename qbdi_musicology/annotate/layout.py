"""Page layout of annotated scores: the page-1 header (title, facts, legend) and staff size.

MuseScore 3 lays out what it is given; these functions choose what it is given so that a
whole system fits on page 1 under the header (see :func:`staff_height_mm`).
"""

from __future__ import annotations

import logging

from ..musicxml import DEFAULT_STAFF_MM, PAGE_HEIGHT, PAGE_MARGIN, PAGE_WIDTH

log = logging.getLogger(__name__)

#: Credit text sizes in points: the title and the two blocks under it (facts and legend).
TITLE_SIZE, TEXT_SIZE = 16, 8
#: From the top of the title to the top of the blocks under it, in tenths (music21's 7 mm
#: staff: 40 tenths = 7 mm).
TITLE_SPACE = 38
#: Height of a line of credit text per point of font size, in millimetres. MuseScore 3
#: sets an 8-point line 3.1 mm apart (1.1 times the size); 1.12 leaves a little room.
LINE_MM_PER_POINT = 25.4 / 72 * 1.12
#: The facts block lists one rate per line up to this many rates, then two per line.
RATES_ONE_PER_LINE = 5


def credit_line_tenths(size: float = TEXT_SIZE) -> float:
    """Height of one line of credit text of ``size`` points, in tenths (7 mm staff).

    Example: an 8-point line is 3.2 mm, 18.1 tenths.
    """
    return size * LINE_MM_PER_POINT * 40.0 / DEFAULT_STAFF_MM


def _credit(content: str, x: float, y: float, size: float, justify: str, valign: str):
    from music21 import text
    box = text.TextBox(content, x, y)
    box.style.fontSize = size
    box.style.justify = justify
    box.style.alignHorizontal = justify  # where default-x is: the left, centre or right edge
    box.style.alignVertical = valign     # where default-y is: the top or the bottom line
    box.page = 1
    return box


def _header(score, title: str, right: str, legend: str) -> float:
    """Title (centre), facts (right) and legend (left) as MusicXML credits on page 1.

    Return the header's height in millimetres on the page (at music21's 7 mm scaling, so
    the same on paper at any staff size).

    The title hangs from the top margin; the two blocks under it are placed by their
    bottom line (``valign="bottom"``), computed from their number of lines. MuseScore 3
    ignores the vertical alignment: it sets the facts and the legend at the bottom of a
    header frame as tall as the distance between the highest and lowest ``default-y``, so
    a block placed by its top line would grow upwards, past the title and off the page
    (the facts of eight rates did). Placed by their bottom line, the frame holds them and
    every reader that follows the MusicXML standard draws them in the same place.
    """
    top = PAGE_HEIGHT - PAGE_MARGIN
    score.insert(0, _credit(title, PAGE_WIDTH / 2, top, TITLE_SIZE, "center", "top"))
    line = credit_line_tenths(TEXT_SIZE)
    blocks_top = top - TITLE_SPACE
    tallest = 0
    for block, x, justify in ((right, PAGE_WIDTH - PAGE_MARGIN, "right"),
                              (legend, PAGE_MARGIN, "left")):
        lines = block.count("\n") + 1
        tallest = max(tallest, lines)
        score.insert(0, _credit(block, x, round(blocks_top - lines * line, 1), TEXT_SIZE,
                                justify, "bottom"))
    return (TITLE_SPACE + tallest * line) * DEFAULT_STAFF_MM / 40.0


#: Height in millimetres of the A4 page inside its margins, and the space MuseScore adds
#: around a system under a header, in staff spaces: its header frame is 2.5 spaces taller
#: than the text, 7 separate the frame from the system, 7 stay free under the last staff.
PAGE_CONTENT_MM = (PAGE_HEIGHT - 2 * PAGE_MARGIN) * DEFAULT_STAFF_MM / 40.0
FRAME_SPACES = 16.5
#: Height of one staff with its share of the space around it, in staff spaces (a staff is
#: 4 spaces high; MuseScore leaves about 6.5 between staves, chord symbols and lyrics need
#: the rest; measured: 12.2 in the overview of bwv66.6 at 8 rates).
SPACES_PER_STAFF = 12.5
#: Staff height in millimetres (MusicXML scaling: millimetres per 40 tenths): the largest,
#: music21's default, the densest we use, and the smallest, a miniature score's staff.
STAFF_MM_MAX, STAFF_MM_DENSE, STAFF_MM_MIN = 7.0, 4.6, 3.2
#: The tallest page-1 header written here: the title and seven lines of facts.
HEADER_MM = round((TITLE_SPACE + 7 * credit_line_tenths()) * DEFAULT_STAFF_MM / 40.0, 1)


def staff_height_mm(n_staves: int, *, largest: float = STAFF_MM_MAX,
                    header_mm: float = HEADER_MM) -> float:
    """Staff height so that a system of ``n_staves`` staves fits on page 1 under its header.

    ``header_mm``: the height of the title and the text under it on page 1 (the default is
    the tallest header written here). Example: the drift overview of a chorale at 8 rates
    has 18 staves (9 grand staves) under a header of 25.6 mm (title and six lines):
    ``staff_height_mm(18, header_mm=25.6)`` is 4.0 mm instead of 7, so MuseScore can put
    a whole system on page 1 rather than leave it empty under the title. At 10 rates (22
    staves, seven lines) it is 3.3 mm.
    """
    # header + (frame + staves) x one space (a quarter of the staff height) = the page
    fit = 4.0 * (PAGE_CONTENT_MM - header_mm) / (FRAME_SPACES + n_staves * SPACES_PER_STAFF)
    return round(max(STAFF_MM_MIN, min(largest, fit)), 2)


def _scale(score, millimeters: float) -> None:
    """Write the staff size as the score's MusicXML ``<defaults><scaling>``."""
    from music21 import layout
    score.insert(0, layout.ScoreLayout(scalingMillimeters=millimeters, scalingTenths=40))
