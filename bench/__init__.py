"""Side-by-side benchmark: the reference app, a hand-written Flask baseline, stock Connexion."""
