#!/usr/bin/env bash
# `make sam-local-image`: makes `sam local invoke` / `sam local start-api` work on a machine that
# cannot pull public.ecr.aws/lambda/python:3.11 (see docs/sam-local.md).
#   1. Docker: installs Debian's docker.io when dockerd is absent, and starts dockerd with no bridge
#      network at all (--bridge=none --iptables=false) and scripts/sam_loopback_runc.py as its
#      default runtime, which puts SAM's Lambda containers on the host's loopback.
#   2. The image: a stand-in under the official name, built from Debian bookworm's python3 (3.11),
#      PyPI's awslambdaric (+ simplejson, snapshot-restore-py) and boto3 in /var/runtime, and the
#      Runtime Interface Emulator that ships inside the aws-sam-cli wheel. Skipped when the official
#      image is present, or when the stand-in is already built by this version of the script.
# Idempotent. Exit code 77: Docker cannot run on this machine (the sam-local tests skip then).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPO=public.ecr.aws/lambda/python
TAGS=(3.11 3.11-x86_64)
CACHE=${SAM_LOCAL_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/activation-gateway/sam-local-image}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
RUNTIME=sam-loopback
WRAPPER=$CACHE/sam-loopback-runc
DOCKERD_LOG=$CACHE/dockerd.log
PY=$ROOT/.venv/bin/python
[[ -x $PY ]] || PY=$(command -v python3.11 || command -v python3)
SAM_PY=$ROOT/.venv-sam/bin/python  # AWS SAM CLI's own venv (make install): the emulator's wheel
# The stand-in is rebuilt whenever this script or the wrapper changes.
VERSION=$(cat "${BASH_SOURCE[0]}" "$ROOT/scripts/sam_loopback_runc.py" | sha1sum | cut -c1-12)
LABEL=activation-gateway.sam-local-image

say() { echo "sam-local-image: $*" >&2; }
cannot_run() { say "Docker cannot run here: $*"; exit 77; }

apt_install() {
  [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null || cannot_run "need root and apt-get to install $*"
  if ! apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  fi
}

runtime_ready() {
  docker info --format '{{.DefaultRuntime}}' 2>/dev/null | grep -qx "$RUNTIME"
}

install_wrapper() {
  mkdir -p "$CACHE"
  install -m 0755 "$ROOT/scripts/sam_loopback_runc.py" "$WRAPPER.new" && mv -f "$WRAPPER.new" "$WRAPPER"
}

ensure_docker() {
  if docker info >/dev/null 2>&1; then
    install_wrapper
    runtime_ready && return 0
    say "a dockerd is running without the $RUNTIME runtime; restart it as docs/sam-local.md says:"
    say "  dockerd --bridge=none --iptables=false --add-runtime $RUNTIME=$WRAPPER --default-runtime $RUNTIME"
    exit 1
  fi
  [[ $(id -u) == 0 ]] || cannot_run "dockerd is not running (or not ours to use) and starting it needs root"
  command -v dockerd >/dev/null || { say "installing docker.io"; apt_install docker.io; }
  command -v docker >/dev/null || cannot_run "no docker client"
  install_wrapper
  say "starting dockerd (no bridge network; log: $DOCKERD_LOG)"
  setsid dockerd --bridge=none --iptables=false --ip-masq=false \
    --add-runtime "$RUNTIME=$WRAPPER" --default-runtime "$RUNTIME" \
    >"$DOCKERD_LOG" 2>&1 </dev/null &
  # Whoever asked to know (the sam-local test tier) stops the dockerd it caused to start.
  [[ -n ${STARTED_DOCKERD_PID_FILE:-} ]] && echo $! >"$STARTED_DOCKERD_PID_FILE"
  for _ in $(seq 120); do
    docker info >/dev/null 2>&1 && break
    kill -0 $! 2>/dev/null || cannot_run "dockerd exited: $(tail -n 3 "$DOCKERD_LOG")"
    sleep 0.5
  done
  runtime_ready || cannot_run "dockerd did not come up: $(tail -n 3 "$DOCKERD_LOG")"
}

image_label() {
  docker image inspect --format "{{index .Config.Labels \"$LABEL\"}}" "$REPO:${TAGS[0]}" 2>/dev/null
}

rootfs() {
  # Debian bookworm minbase with python3 (3.11), cached across builds.
  [[ -x $CACHE/rootfs/usr/bin/python3.11 ]] && return 0
  command -v debootstrap >/dev/null || { say "installing debootstrap"; apt_install debootstrap; }
  say "debootstrap bookworm into $CACHE/rootfs (a few minutes, once)"
  rm -rf "$CACHE/rootfs.tmp"
  debootstrap --variant=minbase --include=python3,ca-certificates bookworm \
    "$CACHE/rootfs.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { say "debootstrap failed: $(tail -n 3 "$CACHE/debootstrap.log")"; exit 1; }
  rm -rf "$CACHE/rootfs.tmp/var/cache/apt/archives/"*.deb "$CACHE/rootfs.tmp/var/lib/apt/lists/"*
  mv "$CACHE/rootfs.tmp" "$CACHE/rootfs"
}

build_image() {
  local stage=$CACHE/stage rie
  rie=$("$SAM_PY" -c 'import pathlib, samcli; print(pathlib.Path(samcli.__file__).parent / "local/rapid/aws-lambda-rie-x86_64")')
  [[ -x $rie ]] || { say "no Runtime Interface Emulator at $rie (is .venv-sam installed? make install)"; exit 1; }
  rootfs
  rm -rf "$stage" && cp -a "$CACHE/rootfs" "$stage"
  say "installing awslambdaric and boto3 into /var/runtime"
  "$PY" -m pip install --disable-pip-version-check --no-warn-conflicts --no-compile \
    --target "$stage/var/runtime" awslambdaric simplejson snapshot-restore-py boto3 \
    >"$CACHE/pip.log" 2>&1 || { say "pip failed: $(tail -n 5 "$CACHE/pip.log")"; exit 1; }
  install -D -m 0755 "$rie" "$stage/usr/local/bin/aws-lambda-rie"
  mkdir -p "$stage/var/task" "$stage/opt"
  # As the official image's: the handler is the only argument; the emulator runs the runtime
  # itself when no Runtime API is around (plain `docker run -p 9000:8080 IMAGE app.handler`).
  cat >"$stage/lambda-entrypoint.sh" <<'EOF'
#!/bin/sh
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"
RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
EOF
  # Lambda's import order: the function, then layers, then the runtime's own packages.
  cat >"$stage/var/runtime/bootstrap" <<'EOF'
#!/bin/sh
export AWS_EXECUTION_ENV=AWS_Lambda_python3.11
export PYTHONPATH="${LAMBDA_TASK_ROOT}:/opt/python/lib/python3.11/site-packages:/opt/python:${LAMBDA_RUNTIME_DIR}"
exec /usr/bin/python3.11 -m awslambdaric "$_HANDLER"
EOF
  chmod 0755 "$stage/lambda-entrypoint.sh" "$stage/var/runtime/bootstrap"
  say "importing $REPO:${TAGS[0]}"
  tar -C "$stage" -c . | docker import \
    --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
    --change 'WORKDIR /var/task' \
    --change 'ENV LANG=C.UTF-8 TZ=:/etc/localtime' \
    --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' \
    --change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change "LABEL $LABEL=$VERSION" \
    - "$REPO:${TAGS[0]}" >/dev/null
  for tag in "${TAGS[@]:1}"; do docker tag "$REPO:${TAGS[0]}" "$REPO:$tag"; done
  rm -rf "$stage"
  # Earlier stand-ins that lost their tags.
  docker image prune -f --filter "label=$LABEL" >/dev/null
}

main() {
  ensure_docker
  local label
  if docker image inspect "$REPO:${TAGS[0]}" >/dev/null 2>&1; then
    label=$(image_label)
    if [[ -z $label || $label == "<no value>" ]]; then
      say "the official $REPO:${TAGS[0]} is present: nothing to build"
      return 0
    fi
    if [[ $label == "$VERSION" ]]; then
      for tag in "${TAGS[@]:1}"; do docker tag "$REPO:${TAGS[0]}" "$REPO:$tag"; done
      say "$REPO:${TAGS[0]} (stand-in $VERSION) is up to date"
      return 0
    fi
  fi
  build_image
  say "built $REPO:${TAGS[*]} (stand-in $VERSION)"
}

main "$@"
