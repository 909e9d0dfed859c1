#!/usr/bin/env bash
# Roll a release back to the previous one: the application first (the previous image, or the
# previous Kubernetes rollout), then the database down to the migration head that release
# recorded. Refuses a downgrade that would delete data unless --force.
#
# Usage: scripts/rollback.sh [--dry-run] [--force] TARGET [APP]
#   TARGET (where the database goes back to), one of:
#     --to-image IMAGE      the previous release's image; its label io.contract-first-flask.migration-head
#     --to-head REVISION    a migration revision, e.g. from the previous release's record
#   APP (how the application goes back), optional:
#     --retag LIVE_TAG      point LIVE_TAG at IMAGE (compose/podman deployments restart on it)
#     --kubernetes DEPLOY   `kubectl rollout undo deployment/DEPLOY` (KUBECTL_ARGS for -n etc.)
# Environment: MIGRATE, the command that runs the *current* release's `python -m app.migrate`
#   (it alone knows the migrations to undo), default "python -m app.migrate"; its DATABASE_URL
#   must be the migration (DDL) role's. CONTAINER_CLI (podman or docker), default podman.
# Exit codes: 0 done (or planned, with --dry-run), 2 usage, 3 refused (data would be lost),
#   4 the application step failed, 5 the database step failed.
set -euo pipefail

dry_run=false force=false image="" head="" retag="" deployment=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=true; shift ;;
    --force) force=true; shift ;;
    --to-image) image=$2; shift 2 ;;
    --to-head) head=$2; shift 2 ;;
    --retag) retag=$2; shift 2 ;;
    --kubernetes) deployment=$2; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "rollback: unknown argument $1" >&2; exit 2 ;;
  esac
done
read -r -a migrate <<< "${MIGRATE:-python -m app.migrate}"
cli=${CONTAINER_CLI:-podman}
say() { echo "rollback: $*"; }
run() { if $dry_run; then say "would run: $*"; else say "running: $*"; "$@"; fi; }

if [ -n "$image" ] && [ -z "$head" ]; then
  head=$($cli image inspect --format '{{ index .Config.Labels "io.contract-first-flask.migration-head" }}' "$image") \
    || { echo "rollback: cannot read the migration head of $image" >&2; exit 2; }
fi
[ -n "$head" ] && [ "$head" != "unknown" ] || { echo "rollback: give --to-image or --to-head" >&2; exit 2; }
[ -z "$retag" ] || [ -n "$image" ] || { echo "rollback: --retag needs --to-image" >&2; exit 2; }

current=$("${migrate[@]}" current) || { echo "rollback: cannot read the database's revision" >&2; exit 5; }
say "database at ${current:-<empty>}, the previous release's head is $head"

# The database is checked before anything changes, so a refusal leaves the release as it was.
losses=""
if [ "$current" != "$head" ]; then
  set +e
  losses=$("${migrate[@]}" losses "$head")
  status=$?
  set -e
  [ $status -eq 0 ] || [ $status -eq 3 ] || { echo "rollback: rehearsing the downgrade failed" >&2; exit 5; }
  if [ -n "$losses" ]; then
    say "the downgrade to $head would delete:"; printf '%s\n' "$losses" | sed 's/^/  /'
    $force || { echo "rollback: refused (data would be lost); --force to go ahead" >&2; exit 3; }
  fi
fi

# The application first: the previous release runs on the newer schema (migrations expand
# before they contract), while the newer release may not run on the older one.
if [ -n "$deployment" ]; then
  if $dry_run; then
    # shellcheck disable=SC2086
    kubectl rollout undo "deployment/$deployment" ${KUBECTL_ARGS:-} --dry-run=server || exit 4
  else
    # shellcheck disable=SC2086
    { kubectl rollout undo "deployment/$deployment" ${KUBECTL_ARGS:-} \
      && kubectl rollout status "deployment/$deployment" ${KUBECTL_ARGS:-} --timeout=300s; } || exit 4
  fi
elif [ -n "$retag" ]; then
  run "$cli" tag "$image" "$retag" || exit 4
fi

if [ "$current" = "$head" ]; then
  say "the database is already at $head"
else
  run "${migrate[@]}" downgrade "$head" || exit 5
fi
$dry_run && say "dry run: nothing changed" || say "rolled back to $head"
