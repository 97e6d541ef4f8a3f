"""The classroom page: one piece, a rate slider, and the score, the sound and the numbers.

``lesson.html`` sits beside ``report.html`` and uses the same pictures and sounds (the
``media/`` folder, relative links): copy the report folder to a USB stick and it works in
any browser, without a server and without a network. Moving the slider (or pressing the
rate buttons, or the arrow keys) switches, for that rate,

* the engraved score (the query's staves over the improvisation),
* the improvisation's player (the query's player stays),
* the key numbers: triad agreement, tonic share, distinct chords,

in type large enough for a projector. The numbers are the drift table's own (the rows
handed in, the same the report's table and ``drift_table.csv`` show), written into the
page as data, never typed in.

Example::

    write_lesson(rows, media, "out/demo/report/lesson.html")
"""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..fileio import write_text_atomic
from .media import QueryMedia, rate_words

#: The numbers the page shows per rate: drift-table column -> (label, what it counts).
LESSON_NUMBERS: dict[str, tuple[str, str]] = {
    "triad_agreement": ("triad agreement",
                        "share of bars whose main triad is the query's"),
    "tonic_share": ("tonic share", "share of bars on the tonic triad"),
    "distinct_chords": ("distinct chords", "different chords in the piece"),
}


def number_text(value: Any) -> str:
    """A number as the report's tables, the lesson page and the demo write it.

    ``0.8 -> '0.800'``, ``8.0 -> '8'``, ``inf -> 'full'``, NaN or None -> ``'-'``; other
    values as text.
    """
    if value is None:
        return "-"
    if isinstance(value, (float, int, np.floating, np.integer)) and not isinstance(value, bool):
        value = float(value)
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "full"
        return f"{value:.0f}" if value.is_integer() else f"{value:.3f}"
    return str(value)


def _bars_text(share: Any, bars: int | None) -> str:
    if bars is None or share is None or pd.isna(share):
        return ""
    return f"{round(float(share) * bars)} of {bars} bars"


def lesson_data(rows: pd.DataFrame, media: QueryMedia) -> dict[str, Any]:
    """What the page needs, per rate from the lowest to the full rate (the slider's order).

    ``rows``: the query's rows of the drift table (one per rate). Each rate carries its
    numbers as the report's tables print them, its score pages and its sound.
    """
    rows = rows.sort_values("rate", ascending=True)
    bars = None
    if "segments" in rows and len(rows) and pd.notna(rows["segments"].iloc[0]):
        bars = int(rows["segments"].iloc[0])
    rates = []
    for _, row in rows.iterrows():
        rate = float(row["rate"])
        view = media.view(rate)
        numbers = []
        for column, (label, meaning) in LESSON_NUMBERS.items():
            if column not in row.index:
                continue
            value = row[column]
            detail = (_bars_text(value, bars) if column != "distinct_chords" else "")
            numbers.append({"column": column, "label": label, "meaning": meaning,
                            "text": number_text(value), "detail": detail})
        rates.append({"rate": "full" if math.isinf(rate) else f"{rate:g}",
                      "label": rate_words(rate), "numbers": numbers,
                      "pages": list(view.pages) if view else [],
                      "audio": view.audio if view else None})
    first = rows.iloc[0] if len(rows) else pd.Series(dtype=object)
    reference = []
    for column, label in (("query_tonic_share", "tonic share"),
                          ("query_distinct_chords", "distinct chords")):
        if column in first.index and pd.notna(first[column]):
            reference.append(f"{label} {number_text(first[column])}")
    return {"title": media.title, "key": str(first.get("key", "")) if len(rows) else "",
            "bars": bars, "query_audio": media.query_audio, "rates": rates,
            "query_numbers": ", ".join(reference), "notes": list(media.notes)}


_CSS = """
*{box-sizing:border-box}
body{margin:0;padding:0 1.5rem 3rem;font-family:Helvetica,Arial,sans-serif;
font-size:22px;color:#1b1b1b;background:#fafafa;line-height:1.3}
h1{font-size:1.7rem;margin:.6rem 0 .1rem;color:#163d6b}
.sub{font-size:1rem;color:#444;margin:0 0 .4rem}
.panel{position:sticky;top:0;z-index:2;background:#fafafa;padding:.4rem 0 .5rem;
border-bottom:2px solid #c9d4e5;margin:0 0 .8rem}
.control{display:flex;align-items:center;flex-wrap:wrap;gap:.4rem 1rem}
.control label{font-size:1rem;color:#163d6b;font-weight:bold}
#rate-slider{flex:1 1 10rem;height:2rem;accent-color:#1f5fa8}
.buttons{display:flex;gap:.5rem;flex-wrap:wrap}
.buttons button{font-size:1.2rem;padding:.25rem .9rem;border-radius:8px;
border:2px solid #1f5fa8;background:#fff;color:#1f5fa8;cursor:pointer}
.buttons button[aria-pressed=true]{background:#1f5fa8;color:#fff}
#rate-shown{font-size:1.7rem;font-weight:bold;color:#b5443a;margin:0;min-width:8.5em}
.numbers{display:flex;gap:.5rem 1rem;flex-wrap:wrap;margin:.5rem 0 .3rem}
.number{flex:1 1 12rem;background:#fff;border:2px solid #c9d4e5;border-radius:10px;
padding:.15rem .8rem;display:flex;align-items:baseline;flex-wrap:wrap;gap:0 .7rem}
.number .label{font-size:.9rem;color:#555;text-transform:uppercase;letter-spacing:.04em;
flex-basis:100%}
.number .value{font-size:2.5rem;font-weight:bold;color:#163d6b;line-height:1.1}
.number .detail{font-size:.95rem;color:#555}
.reference{font-size:.95rem;color:#555;margin:0 0 .3rem}
.players{display:flex;gap:.3rem 2rem;flex-wrap:wrap;align-items:center}
.players div{display:flex;align-items:center;gap:.5rem;font-size:1rem}
audio{width:20rem;max-width:100%;height:2.4rem}
.note{font-size:1rem;color:#7a4b00}
#score img{display:block;width:100%;background:#fff;border:1px solid #ccc;margin:0 0 .6rem}
#score [hidden]{display:none}
"""

_SCRIPT = """
(function(){
  var data = JSON.parse(document.getElementById('lesson-data').textContent);
  if (!data.rates.length) { return; }
  var slider = document.getElementById('rate-slider');
  var buttons = document.querySelectorAll('.buttons button');
  var player = document.getElementById('improvisation-audio');
  var groups = document.querySelectorAll('#score .rate-pages');
  function follow(src){
    // Keep the place: a rate heard from 0:12 goes on from 0:12 at the new rate.
    var at = player.currentTime, playing = !player.paused;
    player.setAttribute('src', src);
    player.addEventListener('loadedmetadata', function once(){
      player.removeEventListener('loadedmetadata', once);
      if (at > 0 && at < player.duration){ player.currentTime = at; }
      if (playing){ player.play(); }
    });
    player.load();
  }
  function show(i){
    var r = data.rates[i];
    slider.value = String(i);
    for (var b = 0; b < buttons.length; b++){
      buttons[b].setAttribute('aria-pressed', String(b === i));
    }
    document.getElementById('rate-shown').textContent = r.label;
    for (var n = 0; n < r.numbers.length; n++){
      var num = r.numbers[n];
      document.getElementById('value-' + num.column).textContent = num.text;
      document.getElementById('detail-' + num.column).textContent = num.detail;
    }
    if (player){
      if (r.audio){
        if (player.getAttribute('src') !== r.audio){ follow(r.audio); }
        player.parentNode.style.display = '';
      } else {
        player.pause(); player.removeAttribute('src'); player.parentNode.style.display = 'none';
      }
      document.getElementById('improvisation-label').textContent =
        'improvisation, ' + r.label;
    }
    // Every rate's pages are in the page already: switching shows them at once, in place.
    for (var g = 0; g < groups.length; g++){ groups[g].hidden = (g !== i); }
    document.body.setAttribute('data-rate', r.rate);
  }
  slider.addEventListener('input', function(){ show(parseInt(slider.value, 10)); });
  for (var b = 0; b < buttons.length; b++){
    buttons[b].addEventListener('click', (function(i){ return function(){ show(i); }; })(b));
  }
  document.addEventListener('keydown', function(e){
    if (e.target === slider) { return; }
    var i = parseInt(slider.value, 10);
    if (e.key === 'ArrowLeft' && i > 0){ show(i - 1); }
    if (e.key === 'ArrowRight' && i < data.rates.length - 1){ show(i + 1); }
  });
  show(parseInt(slider.value, 10));
})();
"""


def lesson_html(data: dict[str, Any]) -> str:
    """The page for :func:`lesson_data`'s data: static HTML for the full rate, and a small
    script that switches rates. No file outside the report folder is referenced."""
    esc = html.escape
    rates = data["rates"]
    start = len(rates) - 1  # the full rate (highest) first, as the lesson starts there
    current = rates[start] if rates else {"label": "", "numbers": [], "pages": [],
                                          "audio": None}
    payload = json.dumps(data, ensure_ascii=True, sort_keys=True).replace("</", "<\\/")
    key = f" &middot; {esc(data['key'])}" if data.get("key") else ""
    bars = f" &middot; {data['bars']} bars" if data.get("bars") else ""
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{esc(data['title'])}: harmony through a narrow channel</title>",
             f"<style>{_CSS}</style></head>",
             f"<body data-rate='{esc(current.get('rate', ''))}'>",
             f"<h1>{esc(data['title'])}: what survives the channel?</h1>",
             f"<p class='sub'>The query and its improvisation, bar by bar, at each channel "
             f"rate (bits per bar){key}{bars}. Move the slider, or press &larr; &rarr;.</p>"]
    # The panel stays at the top while the score scrolls under it.
    parts.append("<div class='panel'><div class='control'>"
                 "<label for='rate-slider'>channel rate</label>"
                 f"<input type='range' id='rate-slider' min='0' max='{max(len(rates) - 1, 0)}' "
                 f"step='1' value='{start}' aria-label='channel rate'>"
                 "<div class='buttons'>"
                 + "".join(f"<button type='button' data-index='{i}' "
                           f"aria-pressed='{'true' if i == start else 'false'}'>"
                           f"{esc(r['rate'])}</button>" for i, r in enumerate(rates))
                 + f"</div><p id='rate-shown'>{esc(current['label'])}</p></div>")
    parts.append("<div class='numbers'>")
    for number in current["numbers"]:
        column = esc(number["column"])
        parts.append(f"<div class='number' title='{esc(number['meaning'])}'>"
                     f"<div class='label'>{esc(number['label'])}</div>"
                     f"<div class='value' id='value-{column}'>{esc(number['text'])}</div>"
                     f"<div class='detail' id='detail-{column}'>{esc(number['detail'])}</div>"
                     "</div>")
    parts.append("</div>")
    if data.get("query_numbers"):
        parts.append(f"<p class='reference'>The query itself: "
                     f"{esc(data['query_numbers'])}.</p>")
    if data.get("query_audio") or any(r.get("audio") for r in rates):
        parts.append("<div class='players'>")
        if data.get("query_audio"):
            parts.append(f"<div><span>query</span><audio controls preload='metadata' "
                         f"id='query-audio' src='{esc(data['query_audio'])}'></audio></div>")
        audio_src = current.get("audio")
        parts.append(f"<div><span id='improvisation-label'>improvisation, "
                     f"{esc(current['label'])}</span><audio controls preload='metadata' "
                     f"id='improvisation-audio'"
                     + (f" src='{esc(audio_src)}'" if audio_src else "")
                     + "></audio></div></div>")
    parts += [f"<p class='note'>{esc(note)}</p>" for note in data.get("notes", [])]
    parts.append("</div><div id='score'>")
    for i, rate in enumerate(rates):
        parts.append(f"<div class='rate-pages' data-rate='{esc(rate['rate'])}'"
                     + ("" if i == start else " hidden") + ">" + "".join(
                         f"<img src='{esc(src)}' alt='{esc(data['title'])}, "
                         f"{esc(rate['label'])}, page {n}'>"
                         for n, src in enumerate(rate["pages"], start=1)) + "</div>")
    parts.append("</div>")
    parts.append(f"<script type='application/json' id='lesson-data'>{payload}</script>")
    parts.append(f"<script>{_SCRIPT}</script></body></html>")
    return "\n".join(parts) + "\n"


def write_lesson(rows: pd.DataFrame, media: QueryMedia, target: str | os.PathLike) -> Path:
    """Write the classroom page for one query to ``target`` (atomically) and return it.

    ``target`` must sit in the report folder: the page links the media relative to it.
    Example: ``write_lesson(table[table.query_id == "bach-chorales_bwv66.6"], media,
    "out/demo/report/lesson.html")``.
    """
    return write_text_atomic(target, lesson_html(lesson_data(rows, media)))
