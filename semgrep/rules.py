# Cases for scripts/check_semgrep_rules.py: each rule must flag the `ruleid` lines and pass the `ok` ones.
# ruff: noqa
import flask
from joserfc import jwt
from sqlalchemy import text


def decode_without_claims(token, key):
    # ruleid: jwt-decode-without-claims-check
    return jwt.decode(token, key, algorithms=["ES256"])


def decode_with_claims(token, key, registry):
    # ok: jwt-decode-without-claims-check
    token = jwt.decode(token, key, algorithms=["ES256"])
    registry.validate(token.claims)
    return token


def token_from_query():
    # ruleid: token-from-query-string
    return flask.request.args.get("access_token")


def formatted_sql(session, name):
    # ruleid: raw-sql-string-formatting
    return session.execute(text(f"SELECT * FROM users WHERE email = '{name}'"))


def bound_sql(session, name):
    # ok: raw-sql-string-formatting
    return session.execute(text("SELECT * FROM users WHERE email = :e"), {"e": name})
