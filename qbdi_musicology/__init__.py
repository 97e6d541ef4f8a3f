"""qbdi-musicology: Query-based Deep Improvisation as music21 score transformations.

A variational autoencoder trained on bars of piano-roll in one style is *queried* with a
piece in another style; each bar's latent passes a rate-limited Gaussian channel before it
is decoded, and the package analyses how the harmony changes with the rate.
"""

__version__ = "0.1.0"
