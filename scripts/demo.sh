#!/usr/bin/env bash
# make demo: the offline tour of skiff. Debian's docker-registry on 127.0.0.1, a busybox
# image made from busybox-static, pushed and pulled back, a foreground container with a
# memory limit and --explain, a detached one with ps, logs, exec and stats, then cleanup.
# Everything lives in a temp dir (its own --root), and nothing is left behind.
set -euo pipefail
BUILD=${1:-build}
SKIFF_BIN=$(realpath "$BUILD/skiff")
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
WORK=$(mktemp -d /tmp/skiff-demo.XXXXXX)
skiff() { $SUDO "$SKIFF_BIN" --root "$WORK/root" "$@"; }
REG_PID=""
cleanup() {
  set +e
  skiff rm -f demo-ticker >/dev/null 2>&1
  [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
  $SUDO rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '\033[2m$ skiff %s\033[0m\n' "$*"; skiff "$@"; }

step "a registry: Debian's docker-registry on 127.0.0.1"
PORT=$((20000 + RANDOM % 20000))
cat >"$WORK/registry.yml" <<CONF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$PORT
CONF
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/" && break; sleep 0.1; done
IMG=127.0.0.1:$PORT/demo/busybox:1
echo "listening on 127.0.0.1:$PORT"

step "an image from busybox-static, pushed, removed, pulled back"
R=$WORK/rootfs
mkdir -p "$R/bin" "$R/etc" "$R/tmp" "$R/proc" "$R/sys" "$R/dev"
cp /bin/busybox "$R/bin/busybox"
for a in $("$R/bin/busybox" --list); do [ "$a" = busybox ] || ln -s busybox "$R/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$R/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$R/etc/group"
show import "$R" "$IMG" --change 'CMD ["sh"]'
show push "$IMG"
show rmi "$IMG"
show pull "$IMG"
show images

step "a container in the foreground: 64 MiB memory limit, and what the kernel was asked to do"
show run --rm -m 64m --explain "$IMG" sh -c 'echo "hello from $(hostname), pid $$"; id'

step "a detached container: ps, logs, exec, stats"
show run -d --name demo-ticker "$IMG" sh -c 'i=0; while true; do i=$((i+1)); echo "tick $i"; sleep 1; done'
sleep 2
show ps
show logs --tail 2 demo-ticker
show exec demo-ticker sh -c 'echo "exec sees: $(ps | wc -l) lines of ps"; cat /proc/1/cmdline | tr "\0" " "; echo'
show stats --no-stream demo-ticker
show stop -t 1 demo-ticker
show ps -a
show rm demo-ticker

step "cleaned up: no container, mount or cgroup left"
skiff ps -a -q | wc -l | sed 's/^/containers: /'
grep -c "$WORK" /proc/self/mountinfo | sed 's/^/mounts under the demo dir: /' || true
step "done"
