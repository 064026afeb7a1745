#!/bin/bash
# tandem task validate: a three-container task definition is accepted and shown in its start
# order with what each container waits for; a broken one is refused in one line naming the file,
# the field and what was expected.
set -euo pipefail
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_tools jq
tasks=$(dirname "$0")/tasks

status=0
"$TANDEM" task validate "$tasks/web_app.json" >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
out=$(<"$SCRATCH/out")
err=$(<"$SCRATCH/err")
assert_status 0 "a valid task definition"
assert_eq "family: web-app
isolation: vm
network: bridge
cpu: 1024 units
memory: 1024 MiB
start order:
  db (essential): localhost/tandem/busybox
  migrate: localhost/tandem/busybox; after db START
  web (essential): localhost/tandem/busybox; after db HEALTHY, migrate SUCCESS" "$out" \
  "the task's summary and start order"

jq '.containerDefinitions[0].dependsOn[0].condition = "READY"' "$tasks/web_app.json" \
  >"$SCRATCH/broken.json"
status=0
"$TANDEM" task validate "$SCRATCH/broken.json" >"$SCRATCH/out" 2>"$SCRATCH/err" || status=$?
out=$(<"$SCRATCH/out")
err=$(<"$SCRATCH/err")
assert_runtime_error "a task definition with an unknown dependency condition"
assert_eq "tandem: task definition $SCRATCH/broken.json: containerDefinitions[0].dependsOn[0].condition: expected START, COMPLETE, SUCCESS or HEALTHY, got \"READY\"" \
  "$err" "the refusal"
