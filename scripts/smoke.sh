#!/usr/bin/env bash
# Post-deploy smoke test against a running instance: probes, JWKS, the contract's version, a
# whole account and project flow with a throw-away user, and the security headers.
# Usage: scripts/smoke.sh [--wait SECONDS] [--expect-version X.Y.Z] BASE_URL
#   BASE_URL is the service root (http://host:8000) or the API root (.../api/v1).
# Every request is bounded (SMOKE_TIMEOUT seconds, default 5); the whole run takes at most
# --wait plus about 15 requests' timeouts. Exit codes name the first failed check:
#   0 ok, 2 usage, 10 livez, 11 readyz, 12 JWKS, 13 OpenAPI document or version, 14 register,
#   15 token, 16 create project, 17 read project, 18 delete project, 19 refresh, 20 logout,
#   21 the logged-out token still accepted, 22 security headers, 23 deleted project still there
set -uo pipefail

wait_s=0 expect_version=""
while [ $# -gt 0 ]; do
  case "$1" in
    --wait) wait_s=$2; shift 2 ;;
    --expect-version) expect_version=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "smoke: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] || { echo "usage: scripts/smoke.sh [--wait S] [--expect-version V] BASE_URL" >&2; exit 2; }
base=${1%/}
case "$base" in */api/v1) api=$base ;; *) api=$base/api/v1 ;; esac
timeout_s=${SMOKE_TIMEOUT:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fail() { echo "smoke: FAIL $2" >&2; exit "$1"; }
ok() { echo "smoke: ok   $1"; }

# request METHOD PATH [BODY] [TOKEN] [HEADER]: the status on stdout, the body in $work/body,
# headers in $work/headers. The token travels in a header file so it never shows in a process
# listing; HEADER is one more request header ("If-Match: ...").
request() {
  local method=$1 path=$2 body=${3:-} token=${4:-} extra=${5:-}
  local args=(--silent --show-error --output "$work/body" --dump-header "$work/headers"
    --write-out '%{http_code}' --connect-timeout 2 --max-time "$timeout_s" -X "$method")
  if [ -n "$token" ]; then
    printf 'Authorization: Bearer %s\n' "$token" > "$work/auth"
    args+=(-H @"$work/auth")
  fi
  [ -n "$body" ] && args+=(-H 'content-type: application/json' --data-binary "$body")
  [ -n "$extra" ] && args+=(-H "$extra")
  curl "${args[@]}" "$api$path" 2>"$work/curl.err" || echo 000
}
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$work/body" "$1"; }
header() { tr -d '\r' < "$work/headers" | awk -v name="$1" 'BEGIN{IGNORECASE=1} index(tolower($0), tolower(name)":")==1 {sub(/^[^:]*: */, ""); print; exit}'; }

deadline=$(( $(date +%s) + wait_s ))
until [ "$(request GET /livez)" = 200 ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail 10 "GET $api/livez: not 200 ($(cat "$work/curl.err" 2>/dev/null))"
  sleep 1
done
ok "livez"
[ "$(request GET /readyz)" = 200 ] || fail 11 "GET /readyz: $(cat "$work/body" 2>/dev/null)"
ok "readyz $(tr -d '\n' < "$work/body")"

for name in X-Content-Type-Options X-Frame-Options Referrer-Policy Cache-Control Content-Security-Policy; do
  [ -n "$(header "$name")" ] || fail 22 "security header $name missing on /readyz"
done
[ "$(header X-Content-Type-Options)" = nosniff ] || fail 22 "X-Content-Type-Options is not nosniff"
ok "security headers"

[ "$(request GET /.well-known/jwks.json)" = 200 ] || fail 12 "GET /.well-known/jwks.json"
python3 - "$work/body" <<'PY' || fail 12 "JWKS has no usable public signing key"
import json, sys
keys = json.load(open(sys.argv[1]))["keys"]
assert keys and all("kid" in k and "d" not in k for k in keys), keys
PY
ok "jwks"

[ "$(request GET /openapi.json)" = 200 ] || fail 13 "GET /openapi.json"
version=$(field info 2>/dev/null | python3 -c 'import ast,sys; print(ast.literal_eval(sys.stdin.read())["version"])' 2>/dev/null)
[ -n "$version" ] || fail 13 "the OpenAPI document has no info.version"
[ -z "$expect_version" ] || [ "$version" = "$expect_version" ] \
  || fail 13 "the contract is version $version, expected $expect_version"
ok "openapi version $version"

email="smoke-$(date +%s)-$RANDOM$RANDOM@example.com"
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(24))')
credentials=$(printf '{"email": "%s", "password": "%s"}' "$email" "$password")
[ "$(request POST /auth/register "$credentials")" = 201 ] || fail 14 "POST /auth/register: $(cat "$work/body")"
ok "register"
[ "$(request POST /auth/token "$credentials")" = 200 ] || fail 15 "POST /auth/token"
access=$(field access_token) refresh=$(field refresh_token)
ok "token"

[ "$(request POST /projects '{"name": "smoke test"}' "$access")" = 201 ] || fail 16 "POST /projects: $(cat "$work/body")"
project=$(field id)
ok "create project"
[ "$(request GET "/projects/$project" "" "$access")" = 200 ] || fail 17 "GET /projects/$project"
[ "$(field name)" = "smoke test" ] || fail 17 "the project read back is not the one created"
etag=$(header ETag)
[ -n "$etag" ] || fail 17 "GET /projects/$project has no ETag"
ok "read project"
# WHY: deleting a project needs the version it read (If-Match); without it the answer is 428.
[ "$(request DELETE "/projects/$project" "" "$access" "If-Match: $etag")" = 204 ] \
  || fail 18 "DELETE /projects/$project: $(cat "$work/body")"
[ "$(request GET "/projects/$project" "" "$access")" = 404 ] || fail 23 "the deleted project is still served"
ok "delete project"

[ "$(request POST /auth/refresh "{\"refresh_token\": \"$refresh\"}")" = 200 ] || fail 19 "POST /auth/refresh"
new_access=$(field access_token) new_refresh=$(field refresh_token)
[ "$new_refresh" != "$refresh" ] || fail 19 "the refresh token was not rotated"
ok "refresh"
[ "$(request POST /auth/logout "{\"refresh_token\": \"$new_refresh\"}" "$new_access")" = 204 ] || fail 20 "POST /auth/logout"
ok "logout"
[ "$(request GET /users/me "" "$new_access")" = 401 ] || fail 21 "the logged-out access token is still accepted"
[ "$(request POST /auth/refresh "{\"refresh_token\": \"$new_refresh\"}")" != 200 ] \
  || fail 21 "the logged-out refresh token is still accepted"
ok "old tokens refused"
echo "smoke: passed against $api"
