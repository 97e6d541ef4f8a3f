"""Analyses of scores and of query/improvisation pairs (harmony, Tonnetz, dynamics, drift)."""
