"""The drift report: verdicts in plain words, figures, a self-contained HTML page."""

from __future__ import annotations

import math
import re

import pandas as pd
import pytest

from qbdi_musicology.batch import TaskRecord
from qbdi_musicology.report.drift_report import (figures_for, mean_by_rate, verdict_for,
                                                 verdicts, write_report)

RATES = [0.0, 8.0, 32.0, 256.0, math.inf]


def _rows(tonic, agreement=None):
    agreement = agreement or [0.2, 0.3, 0.5, 0.7, 0.8]
    return pd.DataFrame({"rate": RATES, "tonic_share": tonic, "chord_agreement": agreement,
                         "distinct_chords": [1, 2, 4, 6, 6],
                         "mean_tonnetz_to_query": [1.2, 1.0, 0.7, 0.4, 0.3]})


def test_tonic_share_rising_as_rate_falls_is_a_drift():
    verdict = verdict_for(_rows([0.9, 0.6, 0.4, 0.25, 0.25]))
    assert verdict.drifts == "yes"
    assert verdict.rho < -0.9 and verdict.p_value < 0.05
    assert verdict.tonic_full == 0.25 and verdict.tonic_zero == 0.9
    assert verdict.text.startswith("Yes: the harmony drifts toward the tonic")
    assert "0.25 at full rate -> 0.90 at 0 bits/bar" in verdict.text


def test_no_drift_flat_and_too_few():
    assert verdict_for(_rows([0.1, 0.2, 0.3, 0.4, 0.5])).drifts == "no"
    flat = verdict_for(_rows([0.25] * 5))
    assert flat.drifts == "flat" and "0.25 at every rate" in flat.text
    assert verdict_for(_rows([0.5, 0.1, 0.3, 0.2, 0.4]).head(2)).drifts == "too few rates"


def test_rate_order_not_row_order_decides():
    shuffled = _rows([0.9, 0.6, 0.4, 0.25, 0.25]).sample(frac=1, random_state=0)
    assert verdict_for(shuffled).drifts == "yes"


def _table():
    a = _rows([0.9, 0.6, 0.4, 0.25, 0.25]).assign(query_id="a", query="corpus:x/a", title="A")
    b = _rows([0.3, 0.3, 0.3, 0.3, 0.3]).assign(query_id="b", query="corpus:x/b", title="B")
    return pd.concat([a, b], ignore_index=True)


def test_verdict_table_and_means():
    table = _table()
    v = verdicts(table)
    assert list(v["query_id"]) == ["a", "b"] and list(v["drifts"]) == ["yes", "flat"]
    means = mean_by_rate(table)
    assert means["rate"].iloc[0] == math.inf  # highest rate first
    assert means.loc[means["rate"] == 0, "tonic_share"].item() == pytest.approx(0.6)
    assert (means["queries"] == 2).all()


def test_figures_are_pngs_and_ir_appears_with_its_column():
    table = _table()
    names = set(figures_for(table))
    assert names == {"chord_agreement", "tonic_share", "distinct_chords", "tonnetz_distance"}
    table["ir_max"] = [1.0, 1.5, 2.0, 2.5, 2.6] * 2
    figures = figures_for(table)
    assert "information_rate" in figures
    assert all(png.startswith(b"\x89PNG") for _, png in figures.values())
    # Same table, same bytes.
    assert figures_for(table)["tonic_share"][1] == figures["tonic_share"][1]


def test_report_folder_is_self_contained(tmp_path):
    table = _table()
    queries_root = tmp_path / "queries"
    records = [TaskRecord("a", "corpus:x/a", 0, "done", files=["rate-000.musicxml"],
                          info={"title": "A"}),
               TaskRecord("b", "corpus:x/b", 1, "done", info={"title": "B"}),
               TaskRecord("c", "/no/such.mid", 2, "failed", error="no such file")]
    files = write_report(table, records, tmp_path / "report", queries_root=queries_root,
                         render=False, settings={"seed": 0, "rates": ["0", "inf"]})
    page = files["html"].read_text()
    # Figures are inline; the only links are relative ones to the scores.
    assert page.count("data:image/png;base64,") == 4
    external = re.findall(r'(?:src|href)="(?!data:)([^"]+)"', page)
    assert external == ["../queries/a/rate-000.musicxml"]
    assert "no such file" in page and "2 of 3 queries analysed" in page
    assert "Yes: the harmony drifts toward the tonic" in page
    md = files["markdown"].read_text()
    assert "| A | yes |" in md and "`/no/such.mid`: no such file" in md
    assert pd.read_parquet(files["parquet"]).shape == table.shape
    assert (tmp_path / "report" / "figures" / "tonic_share.png").is_file()


def _overview_xml(parts: int, staves: int) -> bytes:
    score_parts = "".join(f'<score-part id="P{i}"><part-name>p</part-name></score-part>'
                          for i in range(parts))
    return (f'<score-partwise><defaults><scaling><millimeters>7</millimeters>'
            f'<tenths>40</tenths></scaling><page-layout><page-height>1697</page-height>'
            f'<page-width>1200</page-width></page-layout></defaults>'
            f'<credit page="1"><credit-words default-x="600" default-y="1612">T'
            f'</credit-words></credit><part-list>{score_parts}</part-list>'
            f'<part id="P0"><measure number="1"><attributes><staves>{staves}</staves>'
            f'</attributes></measure></part></score-partwise>').encode()


def test_overview_picture_shrinks_staves_to_fit_a_page():
    from qbdi_musicology.report.drift_report import fit_page_scaling

    # Query + 8 rates on grand staves: 18 staves of 4 mm instead of 7 mm.
    text = fit_page_scaling(_overview_xml(9, 2)).decode()
    assert "<millimeters>4.000</millimeters>" in text
    # The page stays A4: 1697 tenths of 7/40 mm = 2970 tenths of 4/40 mm.
    assert "<page-height>2970</page-height>" in text and "<page-width>2100</page-width>" in text
    assert 'default-x="1050.0"' in text
    # Query + 2 rates (6 staves) fit already: unchanged.
    assert fit_page_scaling(_overview_xml(3, 2)) == _overview_xml(3, 2)


def test_p_value_is_exact_for_a_few_rates():
    from qbdi_musicology.report.drift_report import spearman_exact

    # Four rates, tonic share rising steadily as the rate falls: only 2 of the 24
    # orderings are as extreme, so p = 1/12 and the verdict is only a tendency.
    rho, p = spearman_exact([0, 1, 2, 3], [0.8, 0.6, 0.4, 0.2])
    assert rho == pytest.approx(-1.0) and p == pytest.approx(1 / 12)
    four = pd.DataFrame({"rate": [0.0, 32.0, 256.0, math.inf],
                         "tonic_share": [0.8, 0.6, 0.4, 0.2]})
    assert verdict_for(four).drifts == "weak"
    # Eight rates: 2 of 40320 orderings.
    rho, p = spearman_exact(range(8), range(8, 0, -1))
    assert p == pytest.approx(2 / 40320)


def test_teaching_script_says_the_measured_numbers():
    from qbdi_musicology.report.drift_report import teaching_script

    rows = pd.DataFrame({"rate": [math.inf, 8.0, 0.0], "segments": [10, 10, 10],
                         "triad_agreement": [0.6, 0.2, 0.1], "tonic_share": [0.2, 0.5, 1.0],
                         "distinct_chords": [8, 4, 1], "query_tonic_share": [0.3] * 3,
                         "key": ["f# minor"] * 3, "channel_mean": ["tonic"] * 3})
    text = teaching_script(rows, "bwv66.6", listen={0.0: "rate-000.wav"})
    assert "key (f# minor)" in text and "in 30% of the bars" in text
    assert "Bach's triad in 6 of 10 bars (60%)" in text
    # what rate 0 plays is said from the model's own fallback, not a fixed sentence
    assert "falls back on the tonic chord" in text and "average of the whole" not in text
    rows["channel_mean"] = "query"
    assert "average of the whole piece" in teaching_script(rows, "bwv66.6")
    assert "(rate-000.wav)" in text and "on the tonic in 10 of 10 bars" in text
    assert "uses a single chord" in text
    assert "Caution" not in text  # the tonic share does rise above Bach's own
