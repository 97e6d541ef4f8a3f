"""Put analysis results into scores: chord symbols, Roman numerals, collisions, motifs."""
