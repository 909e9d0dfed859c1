"""Connexion's stock ``FlaskApp`` with the baseline's handlers: the reference point to beat."""
