#!/usr/bin/env bash
# Runs the five services from target/debug against the local PostgreSQL, Redis and RabbitMQ
# (scripts/deps.sh has made sure they are up), prints their URLs and a first request to try,
# and stops everything on Ctrl-C. Logs go to .run/<service>.log.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN_DIR="${BIN_DIR:-target/debug}"
mkdir -p .run
declare -A PORTS=([intake]=8081 [routing]=8082 [refund]=8083 [training-scheduling]=8084 [notifications]=8085)
ORDER=(intake routing refund training-scheduling notifications)
pids=()

stop_all() {
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    echo; echo "stopping..."
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
  echo "stopped"
}
trap stop_all EXIT
trap 'stop_all; exit 0' INT TERM

for svc in "${ORDER[@]}"; do
  prefix=$(echo "$svc" | tr 'a-z-' 'A-Z_')
  if (echo >/dev/tcp/127.0.0.1/"${PORTS[$svc]}") 2>/dev/null; then
    echo "port ${PORTS[$svc]} is taken: is another $svc running? (stop it, or set ${prefix}__HTTP__PORT)" >&2
    exit 1
  fi
  # A workstation: the documented development keys are accepted (production refuses them).
  env "${prefix}__RUNTIME__ENVIRONMENT=development" "${prefix}__TELEMETRY__LOG_FORMAT=${LOG_FORMAT:-pretty}" \
    "$BIN_DIR/$svc" >".run/$svc.log" 2>&1 &
  pids+=($!)
done

# Stand-ins for the email and SMS providers, unless something already listens there.
if ! (echo >/dev/tcp/127.0.0.1/1025) 2>/dev/null && ! (echo >/dev/tcp/127.0.0.1/9090) 2>/dev/null; then
  "$BIN_DIR/devsinks" >".run/devsinks.log" 2>&1 &
  pids+=($!)
  sinks="  emails and SMS the platform sends: .run/devsinks.log"
else
  sinks="  ports 1025/9090 are taken: emails and SMS go to whatever listens there"
fi

for svc in "${ORDER[@]}"; do
  url="http://127.0.0.1:${PORTS[$svc]}"
  for _ in $(seq 1 300); do
    if curl -fsS "$url/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "${pids[0]}" 2>/dev/null; then break; fi
    sleep 0.2
  done
  if curl -fsS "$url/readyz" >/dev/null 2>&1; then
    printf '  %-20s %s   (docs %s/docs)\n' "$svc" "$url" "$url"
  else
    echo "$svc did not become ready; its log (.run/$svc.log) ends with:" >&2
    tail -n 20 ".run/$svc.log" >&2
    exit 1
  fi
done

customer=$(cat /proc/sys/kernel/random/uuid)
token=$("$BIN_DIR/devtoken" --role customer --sub "$customer")
cat <<MSG

All five services are ready. Open a ticket as customer $customer:

  curl -s -X POST http://127.0.0.1:8081/v1/tickets \\
    -H "Authorization: Bearer $token" \\
    -H "Content-Type: application/json" -H "Idempotency-Key: \$(uuidgen || date +%s%N)" \\
    -d '{"channel":"web","subject":"无法进入直播课","body":"点击进入教室后一直加载"}'

then see it arrive in the customer's inbox:

  curl -s http://127.0.0.1:8085/v1/inbox -H "Authorization: Bearer $token"

More tokens: make token ROLE=agent|supervisor|admin|service SUB=<uuid>. Logs: .run/*.log
$sinks
Press Ctrl-C to stop.
MSG

# Exit (and stop the rest) as soon as any service stops.
set +e
wait -n "${pids[@]}"
status=$?
echo "a service exited with status $status; see .run/*.log" >&2
exit "$status"
