#!/usr/bin/env bash
# /docs and /redoc in a real browser: Debian's chromium, driven by playwright-core
# (tests/node/browser.mjs), against examples/items.cpp (or examples/hello.cpp until it exists)
# serving the docs offline from build/docs-assets (tools/docs-assets, FASTAPI_DOCS_ASSETS).
# Every operation of /openapi.json must be rendered; one GET is tried out and its response
# shown; no console errors. Then examples/security.cpp: "Authorize" with the password flow
# and a protected route executed with the token. Then examples/deploy run with --root-path /api
# behind Debian's nginx (examples/deploy/nginx.conf): /api/docs and /api/redoc load
# /api/openapi.json and try the operations out under /api. Screenshots go to build/screenshots/.
# Skips (exit 0) only when chromium is missing and this is not root (which cannot install it).
#   tests/checks/docs_browser.sh [examples/X.cpp]
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/node/lib.sh

CHROMIUM=/usr/bin/chromium
ASSETS=build/docs-assets
SHOTS=build/screenshots
if [ $# -gt 0 ]; then src=$1
elif [ -f examples/items.cpp ]; then src=examples/items.cpp
else src=examples/hello.cpp; fi

if [ ! -x "$CHROMIUM" ]; then
  [ "$(id -u)" -eq 0 ] && tools/deps docs
  if [ ! -x "$CHROMIUM" ]; then
    # Only root can install it; for anyone else this check is skipped, never for CI.
    [ "$(id -u)" -eq 0 ] && { echo "FAIL: tools/deps docs did not install $CHROMIUM" >&2; exit 1; }
    echo "SKIP: $CHROMIUM is not installed (run tools/deps docs as root)"; exit 0
  fi
fi
ensure_node || { echo "FAIL: node and npm are needed (tools/deps docs, as root)" >&2; exit 1; }
ensure_node_modules || { echo "FAIL: npm ci in $NODE_DIR failed" >&2; exit 1; }
if [ ! -f "$ASSETS/swagger-ui-bundle.js" ] || [ ! -f "$ASSETS/redoc.standalone.js" ] ||
   [ ! -f "$ASSETS/swagger-ui.css" ] || [ ! -f "$ASSETS/favicon.png" ]; then
  tools/docs-assets "$ASSETS" || { echo "FAIL: tools/docs-assets $ASSETS failed" >&2; exit 1; }
fi

trap stop_all_examples EXIT
tools/amalgamate >/dev/null || exit 1

# browse SRC [VAR=value...]: builds and serves SRC with the offline assets, runs browser.mjs.
browse() {
  local src=$1 bin port rc; shift
  bin=$(build_example "$src") || return 1
  port=$(free_port)
  start_example "$bin" "$port" FASTAPI_DOCS_ASSETS="$PWD/$ASSETS" ||
    { echo "FAIL: $bin did not start on 127.0.0.1:$port:"; tail -n 20 "$bin.$port.log"; return 1; }
  echo "$src serving on 127.0.0.1:$port (pid $STARTED_PID) with FASTAPI_DOCS_ASSETS=$PWD/$ASSETS"
  local status; status=$(fetch "http://127.0.0.1:$port/openapi.json" /dev/null)
  if [ "$status" != 200 ]; then
    echo "FAIL: $src answered $status to /openapi.json; the docs pages need it" >&2
    stop_example "$STARTED_PID"; return 1
  fi
  env "$@" timeout 300 node "$NODE_DIR/browser.mjs" "http://127.0.0.1:$port" "$SHOTS"
  rc=$?
  stop_example "$STARTED_PID"
  return $rc
}

# browse_behind_nginx SRC: SRC as deployed under a prefix: run with --root-path /api, Debian's
# nginx in front with examples/deploy/nginx.conf (its ports replaced; its own configuration,
# pid file and logs in a temporary folder; stopped by its pid). /api/docs and /api/redoc must
# load /api/openapi.json, render every operation and try one out under /api, through nginx.
browse_behind_nginx() {
  local src=$1 bin port site_port dir rc i status nginx=/usr/sbin/nginx
  [ -x "$nginx" ] || { [ "$(id -u)" -eq 0 ] && tools/deps nginx; }
  [ -x "$nginx" ] || { echo "FAIL: $nginx is not installed (tools/deps nginx, as root)" >&2; return 1; }
  bin=$(build_example "$src") || return 1
  port=$(free_port)
  start_example "$bin" "$port" FASTAPI_DOCS_ASSETS="$PWD/$ASSETS" -- --root-path /api --forwarded-allow-ips 127.0.0.1 ||
    { echo "FAIL: $bin --root-path /api did not start on 127.0.0.1:$port:"; tail -n 20 "$bin.$port.log"; return 1; }
  local app_pid=$STARTED_PID
  dir=$(mktemp -d /tmp/fastapi-docs-nginx-XXXXXX) && chmod 755 "$dir"
  site_port=$(free_port)
  sed -e "s/listen 80;/listen 127.0.0.1:$site_port;/" -e "s/server 127.0.0.1:8000;/server 127.0.0.1:$port;/" \
    examples/deploy/nginx.conf >"$dir/site.conf"
  grep -q "listen 127.0.0.1:$site_port;" "$dir/site.conf" && grep -q "server 127.0.0.1:$port;" "$dir/site.conf" ||
    { echo "FAIL: examples/deploy/nginx.conf no longer has 'listen 80;' and 'server 127.0.0.1:8000;'" >&2; return 1; }
  cat >"$dir/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $dir/body; proxy_temp_path $dir/proxy; fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi; scgi_temp_path $dir/scgi;
  include $dir/site.conf;
}
CONF
  "$nginx" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >/dev/null 2>&1 &
  local nginx_pid=$!
  STARTED_PIDS+=("$nginx_pid")
  status=000
  for i in $(seq 1 100); do
    kill -0 "$nginx_pid" 2>/dev/null || break
    status=$(fetch "http://127.0.0.1:$site_port/api/openapi.json" /dev/null)
    [ "$status" = 200 ] && break
    sleep 0.1
  done
  if [ "$status" != 200 ]; then
    echo "FAIL: /api/openapi.json through nginx answered $status:" >&2; tail -n 20 "$dir/error.log" >&2
    stop_example "$nginx_pid"; stop_example "$app_pid"; rm -rf "$dir"; return 1
  fi
  echo "$src --root-path /api on 127.0.0.1:$port (pid $app_pid), nginx (pid $nginx_pid) in front on 127.0.0.1:$site_port"
  SHOT_PREFIX=behind-nginx- timeout 300 node "$NODE_DIR/browser.mjs" "http://127.0.0.1:$site_port" "$SHOTS" \
    /api/docs /api/redoc /api/openapi.json
  rc=$?
  stop_example "$nginx_pid"
  stop_example "$app_pid"
  rm -rf "$dir"
  return $rc
}

rc=0
browse "$src" || rc=1
# Swagger UI's Authorize button with the password flow, then a protected route.
if [ $# -eq 0 ]; then
  browse examples/security.cpp LOGIN=johndoe:secret SHOT_PREFIX=security- || rc=1
  # The docs under a proxy's prefix: examples/deploy behind nginx, mounted at /api.
  browse_behind_nginx examples/deploy/main.cpp || rc=1
fi
[ $rc -eq 0 ] && echo "screenshots: $(ls "$SHOTS"/*.png | tr '\n' ' ')"
exit $rc
