#!/bin/bash
# tandem service, as an ECS service: it keeps its desired count of tasks running. Scaling up
# starts tasks and scaling down stops the newest; a task whose essential container fails its
# health check is stopped and replaced, and so is one that ends or whose supervisor was killed
# (what it left is ended first); a killed controller is started
# again by the next service command and takes the running tasks over without starting more; rm
# stops every task. A name is one service's only. Nothing is left behind.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_root "creates namespaces and cgroups"
need_tools jq
before=$(host_snapshot)

cat >"$SCRATCH/web.json" <<JSON
{"family": "websvc",
 "containerDefinitions": [
  {"name": "web", "image": "localhost/tandem/busybox",
   "command": ["sh", "-c", "echo ok >/tmp/index.html; httpd -p 8080 -h /tmp; trap 'exit 0' TERM; while sleep 0.2; do :; done"],
   "healthCheck": {"command": ["CMD-SHELL", "wget -q -O /dev/null http://127.0.0.1:8080/"],
                   "interval": 5, "timeout": 2, "retries": 2}}
 ]}
JSON
service() { t service ls --json | jq -r "select(.name == \"websvc\") | $1"; }
running_tasks() { t task ps --json | jq -r .id | sort; }
healthy_count() {
  t task ps --json | jq -r '.containers[0].health' | grep -c healthy || true
}
has_running() { [[ $(service .running) == "$1" && $(running_tasks | wc -l) == "$1" ]]; }
all_healthy() { [[ $(healthy_count) == "$1" ]]; }

id=$(t service create --replicas 2 "$SCRATCH/web.json") || fail "service create failed"
assert_match '^[0-9a-f]{64}$' "$id" "service create's output"
until_true 30 has_running 2 || fail "2 tasks did not start: $(t service ls)"
until_true 30 all_healthy 2 || fail "the 2 tasks did not turn healthy: $(t task ps -a)"
assert_match "^${id:0:12} +websvc +container +2 +2 +running +0$" "$(t service ls | tail -n +2)" "service ls"

status=0
t service create "$SCRATCH/web.json" >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
err=$(<"$SCRATCH/err")
assert_runtime_error "a second service of the same name"
[[ $err == *"exists already"* ]] || fail "the reason a second websvc was refused: $err"

t service scale websvc --replicas 3 >/dev/null
until_true 30 has_running 3 || fail "scaling to 3 did not start a task: $(t service ls)"
until_true 30 all_healthy 3 || fail "the third task did not turn healthy: $(t task ps -a)"

# Health drives replacement: web stops serving in one task, which fails its checks, is stopped
# and replaced by a new one.
sick=$(running_tasks | head -n 1)
sick_web=$(t task inspect "$sick" | jq -r '.containers[0].name_of_workload')
t exec "$sick_web" rm /tmp/index.html
replaced() { [[ $(t task inspect "$sick" | jq -r .state) == stopped && $(service .replaced) == 1 ]]; }
until_true 40 replaced || fail "the unhealthy task was not replaced: $(t task inspect "$sick")"
until_true 30 has_running 3 || fail "the unhealthy task's replacement did not start"
assert_eq "an essential container is unhealthy" "$(t task inspect "$sick" | jq -r .stopped_reason)" \
  "the replaced task's stop reason"

# A killed controller: the next service command starts another, which takes the 3 tasks over.
tasks_before=$(running_tasks)
controller=$(service .controller_pid)
kill -KILL "$controller"
t service ls >/dev/null 2>"$SCRATCH/err"
[[ $(<"$SCRATCH/err") == *"websvc lost its controller; a new one took over its tasks"* ]] ||
  fail "the lost controller was not reported: $(<"$SCRATCH/err")"
[[ $(service .controller_pid) != "$controller" && $(service .state) == running ]] ||
  fail "no new controller: $(t service ls --json)"
sleep 2
assert_eq "$tasks_before" "$(running_tasks)" "the running tasks once a new controller took over"

# A task that ends is replaced too.
ended=$(running_tasks | head -n 1)
t task stop "$ended" >/dev/null
now_replaced() { [[ $(service .replaced) == 2 ]] && has_running 3; }
until_true 40 now_replaced || fail "the stopped task was not replaced: $(t service ls --json)"

# A task whose supervisor is killed: the controller ends what it left running and replaces it.
lost=$(running_tasks | head -n 1)
kill -KILL "$(t task inspect "$lost" | jq -r .supervisor_pid)"
lost_replaced() { [[ $(service .replaced) == 3 ]] && has_running 3; }
until_true 40 lost_replaced || fail "the task that lost its supervisor was not replaced"
assert_eq "stopped: its supervisor was lost; replaced by its service" \
  "$(t task inspect "$lost" | jq -r '"\(.state): \(.stopped_reason)"')" "the lost task"
assert_eq "exited" "$(t task inspect "$lost" | jq -r '.containers[].state' | sort -u)" \
  "the lost task's container"
assert_eq "exited" "$(t ps -a --json | jq -r "select(.id == \"$(t task inspect "$lost" |
  jq -r .sandbox_id)\") | .state")" "the lost task's sandbox"

# Scaling down stops the newest; rm stops the rest and removes the record.
newest=$(t task ps --json | jq -sr 'sort_by(.created_ns) | .[-2:] | .[].id' | sort)
t service scale websvc --replicas 1 >/dev/null
until_true 30 has_running 1 || fail "scaling to 1 did not stop tasks: $(t service ls)"
assert_eq "" "$(comm -12 <(echo "$newest") <(running_tasks))" "newest tasks still running"
assert_eq "$id" "$(t service rm websvc)" "service rm's output"
assert_eq "" "$(t service ls | tail -n +2)" "services once websvc was removed"
assert_eq "" "$(t task ps | tail -n +2)" "running tasks once websvc was removed"
for task in $(t task ps -a --json | jq -r .id); do
  t task rm "$task" >/dev/null || fail "task rm $task failed"
done
assert_eq "" "$(t ps -aq)" "workload records once every task was removed"
assert_nothing_left "$before" "services"
