#!/usr/bin/env bash
# The bench's pod cycle with util-linux alone: unshare makes the infra's namespaces, nsenter
# joins them. Usage: pod.sh PAUSE TCP PORT. Prints one JSON line of step times in ms.
#
# The same pod as the other tools: pause as PID 1 of new net, ipc, uts and pid namespaces, with
# a hostname and lo up, ready when it writes its byte; a server and a client that join all four
# and talk over 127.0.0.1; the client's status; SIGTERM to the server and to the infra. Unlike
# tspod and the C floor, the containers get no mount namespace or /proc of their own.
set -euo pipefail
pause=$1 tcp=$2 port=$3
dir=$(mktemp -d /tmp/tspod-bench-sh.XXXXXX)
infra='' server=''
# Under set -e, a failing kill (a process already gone) would end the trap before the rm.
cleanup() {
  if [ -n "$server" ]; then kill -KILL "$server" 2>/dev/null || true; fi
  if [ -n "$infra" ]; then kill -KILL "$infra" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
# ms VAR A B: the milliseconds between two $EPOCHREALTIME readings into VAR, in bash itself: a
# process per step (awk, or a $(...) subshell) would add its own fork to the script's total.
ms() {
  local d=$(( (${3%.*} - ${2%.*}) * 1000000 + 10#${3#*.} - 10#${2#*.} ))
  printf -v "$1" '%d.%03d' $((d / 1000)) $((d % 1000))
}

t0=$EPOCHREALTIME
mkfifo "$dir/ready"
# --fork: pause is PID 1 of the new PID namespace, a child of unshare.
unshare --fork --kill-child --pid --net --ipc --uts -- "$pause" -r 3 3>"$dir/ready" </dev/null >/dev/null 2>&1 &
holder=$!
read -r -n 1 _ <"$dir/ready"
infra=$(cat "/proc/$holder/task/$holder/children")
infra=${infra%% *}
nsenter -t "$infra" -u hostname pod
nsenter -t "$infra" -n ip link set lo up
t1=$EPOCHREALTIME
# join1 is only the start of the server's nsenter in the background: the client's join, which
# retries until the server listens, carries the rest.
nsenter -t "$infra" -n -i -u -p -- "$tcp" serve "$port" </dev/null >/dev/null 2>&1 &
server=$!
t2=$EPOCHREALTIME
nsenter -t "$infra" -n -i -u -p -- "$tcp" connect "$port" </dev/null
t3=$EPOCHREALTIME
# SIGTERM to the workload, not to nsenter: a workload orphaned by nsenter is reparented to the
# host's init, and the PID namespace cannot end until that init reaps it.
kill -TERM "$(cat "/proc/$server/task/$server/children")"
wait "$server" || true
server=''
kill -TERM "$infra"
wait "$holder" || true
infra=''
t4=$EPOCHREALTIME
ms m_infra "$t0" "$t1"; ms m_join1 "$t1" "$t2"; ms m_client "$t2" "$t3"; ms m_teardown "$t3" "$t4"; ms m_total "$t0" "$t4"
printf '{"infra":%s,"join1":%s,"client":%s,"teardown":%s,"total":%s}\n' "$m_infra" "$m_join1" "$m_client" "$m_teardown" "$m_total"
