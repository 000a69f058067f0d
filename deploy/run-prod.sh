#!/usr/bin/env bash
# Hạn Chót in its production shape on one machine (`make prod`):
#   PostgreSQL (the local server) · gunicorn with WEB_WORKERS workers · `flask scheduler run`
# as separate processes. Creates the database if missing, migrates, starts both, forwards
# SIGINT/SIGTERM to both and waits; if either stops, the other is stopped too.
#
# Environment (all optional here; see docs/operations.md):
#   DATABASE_URL   default postgresql+psycopg://postgres@127.0.0.1:5432/hanchot
#   SECRET_KEY     default: generated once into instance/secret_key (mode 600) and reused
#   BIND           default 127.0.0.1:8000     WEB_WORKERS default 4
#   DEMO=1         also load the demo campaigns and accounts (`flask demo load`)
#   PROXY_COUNT    default 0 (clients connect to gunicorn itself); 1 behind deploy/nginx.conf
#   APP_ENV        default production (cookies Secure: put a TLS proxy in front, or set
#                  APP_ENV=development to try it over plain http on this machine)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
VENV="${VENV:-$ROOT/.venv}"
export FLASK_APP=app
export APP_ENV="${APP_ENV:-production}"
export DATABASE_URL="${DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/hanchot}"
export BIND="${BIND:-127.0.0.1:8000}"
export WEB_WORKERS="${WEB_WORKERS:-4}"

log() { printf 'run-prod: %s\n' "$*" >&2; }

if [ -n "${HANCHOT_CLOCK_OFFSET_SECONDS:-}" ] && [ "$APP_ENV" = production ]; then
  log "HANCHOT_CLOCK_OFFSET_SECONDS is for load tests only; unset it"; exit 2
fi

# -- the secret key: given, or generated once and kept ------------------------------
if [ -z "${SECRET_KEY:-}" ]; then
  mkdir -p "$ROOT/instance"
  if [ ! -s "$ROOT/instance/secret_key" ]; then
    (umask 077; "$VENV/bin/python" -c 'import secrets; print(secrets.token_hex(32))' > "$ROOT/instance/secret_key")
    log "generated instance/secret_key"
  fi
  SECRET_KEY="$(cat "$ROOT/instance/secret_key")"
  export SECRET_KEY
fi

# -- the database: create it if missing (psycopg, no psql needed) -------------------
"$VENV/bin/python" - <<'PY'
import os, sys
import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

url = make_url(os.environ["DATABASE_URL"])
if url.get_backend_name() != "postgresql":
    sys.exit(0)
name = url.database
admin = dict(host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
             password=url.password, dbname="postgres", autocommit=True, connect_timeout=10)
try:
    with psycopg.connect(**{k: v for k, v in admin.items() if v is not None}) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"run-prod: created database {name}", file=sys.stderr)
except psycopg.OperationalError as exc:
    # No right to connect to 'postgres' or to create: the database must exist already.
    print(f"run-prod: could not check/create database {name}: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
PY

log "migrating ($APP_ENV)"
"$VENV/bin/flask" db upgrade
if [ "${DEMO:-0}" = 1 ]; then
  "$VENV/bin/flask" demo load
fi

# -- the processes ----------------------------------------------------------------
pids=()
stop() {
  trap - INT TERM
  log "stopping ${pids[*]}"
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # Bounded: gunicorn's graceful timeout is 30 s by default.
  for _ in $(seq 1 40); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 1
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM

"$VENV/bin/gunicorn" -c "$ROOT/deploy/gunicorn.conf.py" 'app:create_app()' &
pids+=($!)
"$VENV/bin/flask" scheduler run &
pids+=($!)
log "web (gunicorn, $WEB_WORKERS workers) on $BIND: pid ${pids[0]}; scheduler: pid ${pids[1]}"

# Whichever stops first, stop the other, and exit with its status.
set +e
wait -n "${pids[@]}"
status=$?
set -e
log "a process exited (status $status)"
stop
exit "$status"
