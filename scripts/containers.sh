#!/usr/bin/env bash
# containers.sh: prove internal/testenv's testcontainers path on this machine.
#
# No registry is reachable here, so it installs Docker's engine from Debian's
# packages, starts it bound to loopback (and stops it afterwards if it started it),
# builds local images from the host's server binaries under the very names the tests
# use (testenv.RedisImage, testenv.EtcdImage), and runs the Redis and etcd smoke tests
# with no RACEFREE_* endpoint set and RACEFREE_REQUIRE=redis,etcd, so they must run
# through testcontainers and cannot skip. On a laptop with Docker and a registry the
# same tests pull the official images instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
H=${RACEFREE_HOME:-/var/tmp/racefree}
export PATH=/usr/bin:/usr/sbin:$PATH:/usr/local/go/bin

log() { echo "containers: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

scripts/services.sh install # redis-server and etcd, for the images
missing=()
for p in docker.io busybox-static; do
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true) == installed ]] || missing+=("$p")
done
if ((${#missing[@]})); then
	log "installing ${missing[*]}"
	policy=/usr/sbin/policy-rc.d ours=
	if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' >$policy; chmod +x $policy; ours=1; fi
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$H/log/apt-docker.log" 2>&1 ||
		{ tail -n 30 "$H/log/apt-docker.log" >&2; die "apt-get install ${missing[*]} failed"; }
	[[ -z $ours ]] || rm -f $policy
fi

dockerd_pid=
stop_dockerd() {
	[[ -n $dockerd_pid ]] || return 0
	kill "$dockerd_pid" 2>/dev/null || true
	for _ in $(seq 100); do [[ -e /proc/$dockerd_pid ]] && [[ $(cut -d' ' -f3 "/proc/$dockerd_pid/stat" 2>/dev/null) != Z ]] || break; sleep 0.1; done
	log "stopped dockerd"
}
if ! docker info >/dev/null 2>&1; then
	log "starting dockerd on loopback"
	setsid dockerd --iptables=false --ip-forward=false --ip=127.0.0.1 >"$H/log/dockerd.log" 2>&1 </dev/null &
	dockerd_pid=$!
	trap stop_dockerd EXIT
	for _ in $(seq 300); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
	docker info >/dev/null 2>&1 || { tail -n 25 "$H/log/dockerd.log" >&2; die "dockerd did not start"; }
fi

# image NAME CMD-JSON BINARY=PATH-IN-IMAGE...: an image of host binaries, their
# shared libraries and busybox (a shell for testcontainers' port check).
image() {
	local name=$1 cmd=$2; shift 2
	docker image inspect "$name" >/dev/null 2>&1 && return 0
	local root; root=$(mktemp -d)
	mkdir -p "$root/bin" "$root/tmp" "$root/usr/local/bin" "$root/etc"
	cp /bin/busybox "$root/bin/busybox"
	local a; for a in $(/bin/busybox --list); do [[ -e $root/bin/$a ]] || ln -s busybox "$root/bin/$a"; done
	local spec src dst lib
	for spec in "$@"; do
		src=${spec%%=*} dst=${spec#*=}
		mkdir -p "$root$(dirname "$dst")"; cp "$src" "$root$dst"
		for lib in $(ldd "$src" 2>/dev/null | grep -oE '/[^ ]+' || true); do
			mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"
		done
	done
	echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
	tar -C "$root" -c . | docker import --change "CMD $cmd" --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - "$name" >/dev/null
	rm -rf "$root"
	log "built $name from host binaries"
}
const() { grep -hoP "$1 = \"\\K[^\"]+" internal/testenv/*.go; }
image "$(const RedisImage)" '["/usr/bin/redis-server", "--protected-mode", "no", "--save", "", "--appendonly", "no"]' \
	"$(command -v redis-server)=/usr/bin/redis-server"
image "$(const EtcdImage)" '["/usr/local/bin/etcd"]' "$(command -v etcd)=/usr/local/bin/etcd"

# The smoke tests, with no endpoint: testenv must start the containers itself.
set +e
env -u RACEFREE_REDIS_ADDRS -u RACEFREE_POSTGRES_DSN -u RACEFREE_MYSQL_DSN -u RACEFREE_ZK_SERVERS \
	-u RACEFREE_ETCD_ENDPOINTS -u RACEFREE_MONGO_URI -u RACEFREE_DYNAMODB_ENDPOINT RACEFREE_REQUIRE=redis,etcd \
	go test -count=1 -v -run '^(TestRedis|TestRedisNodes|TestEtcd)$' ./internal/testenv/
rc=$?
set -e

# The test binary has exited: its reaper removes the containers it started.
for _ in $(seq 100); do [[ -z $(docker ps -aq --filter label=org.testcontainers=true) ]] && break; sleep 0.2; done
left=$(docker ps -aq --filter label=org.testcontainers=true)
if [[ -n $left ]]; then log "containers left behind: $left"; docker rm -f $left >/dev/null; ((rc)) || rc=1; fi
exit $rc
