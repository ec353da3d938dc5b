#!/usr/bin/env bash
# make demo: a real container, offline. A bundle from Debian's busybox-static, the default
# spec from `skiff-runtime spec`, a memory and a pids limit, then the lifecycle by hand.
set -euo pipefail
BUILD=${1:-build}
RT=$(realpath "$BUILD/skiff-runtime")
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
WORK=$(mktemp -d /tmp/skiff-demo.XXXXXX)
ROOT=$WORK/state
cleanup() {
  $SUDO "$RT" --root "$ROOT" delete --force demo-detached >/dev/null 2>&1 || true
  $SUDO rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "a bundle: busybox-static as the root filesystem"
mkdir -p "$WORK/bundle/rootfs/bin"
cp /bin/busybox "$WORK/bundle/rootfs/bin/"
for a in sh ls cat echo id hostname ps sleep mount head; do ln -s busybox "$WORK/bundle/rootfs/bin/$a"; done
cd "$WORK/bundle"
"$RT" spec
echo "skiff-runtime spec wrote config.json ($(wc -l <config.json) lines)"

# No terminal, our own command, and limits under linux.resources.
sed -i -e 's/"terminal": true/"terminal": false/' \
  -e 's|^      "sh"$|      "sh", "-c", "echo hello from $(hostname), pid $$; id; echo; echo cgroup:; cat /proc/self/cgroup \| head -3; echo; echo mounts:; mount \| head -8"|' \
  -e 's|"resources": {|"resources": { "memory": { "limit": 67108864 }, "pids": { "limit": 64 },|' \
  config.json

step "skiff-runtime --explain run demo (memory 64 MiB, pids 64): what the kernel is asked to do"
$SUDO "$RT" --root "$ROOT" --explain run demo

step "create, state, start, pause, resume, kill, delete"
sed -i 's|^      "sh", "-c", .*|      "sleep", "600"|' config.json
$SUDO "$RT" --root "$ROOT" create demo-detached
$SUDO "$RT" --root "$ROOT" state demo-detached | grep -E '"(status|pid)"'
$SUDO "$RT" --root "$ROOT" start demo-detached
$SUDO "$RT" --root "$ROOT" list
pid=$($SUDO "$RT" --root "$ROOT" state demo-detached | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')
echo "memory limit from the host: $(cat /sys/fs/cgroup/memory/skiff/demo-detached/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/skiff/demo-detached/memory.max)"
$SUDO "$RT" --root "$ROOT" pause demo-detached
$SUDO "$RT" --root "$ROOT" state demo-detached | grep '"status"'
$SUDO "$RT" --root "$ROOT" resume demo-detached
$SUDO "$RT" --root "$ROOT" kill demo-detached KILL
sleep 0.2
$SUDO "$RT" --root "$ROOT" state demo-detached | grep '"status"'
$SUDO "$RT" --root "$ROOT" delete demo-detached
echo "pid $pid gone, cgroup removed: $([ -e /sys/fs/cgroup/memory/skiff/demo-detached ] && echo no || echo yes)"
step "done"
