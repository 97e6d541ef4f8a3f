"""qbdi-musicology: Query-based Deep Improvisation as music21 score transformations.

A variational autoencoder trained on bars of piano-roll in one style is *queried* with a
piece in another style; each bar's latent passes a rate-limited Gaussian channel before it
is decoded, and the package analyses how the harmony changes with the rate.

Five lines for the common case (see ``docs/api.md``)::

    import qbdi_musicology as q
    chorale = q.load("corpus:bach-chorales/bwv66.6")
    improvisations = q.sweep(chorale, rates=[float("inf"), 8, 0], seed=1)
    q.write(q.annotate_pair(chorale, improvisations[8], rate=8), "rate-8.musicxml")
    q.drift_table(chorale, improvisations)[["rate", "triad_agreement", "tonic_share"]]
"""

__version__ = "0.1.0"

from .api import (add_chord_labels, annotate_pair, bar_structure,  # noqa: E402
                  chord_labels, drift_table, improvise, load, load_model, metric_score, sweep, write)

__all__ = ["__version__", "load", "load_model", "bar_structure", "metric_score", "improvise",
           "sweep", "add_chord_labels", "chord_labels", "annotate_pair", "drift_table", "write"]
