#!/usr/bin/env bash
# services.sh — the real servers racefree's tests run against, on 127.0.0.1 only.
#
#   scripts/services.sh up       install what is missing, start every server, wait until each answers
#   scripts/services.sh down [NAME...]  stop what `up` started (by PID file), nothing else
#   scripts/services.sh install  only install the packages, FerretDB and dynalite
#   scripts/services.sh env      print the endpoints as `export RACEFREE_...=` lines
#   scripts/services.sh status   show which servers run
#
# Everything (data, logs, PID files, the FerretDB binary, the dynalite npm install) lives
# under RACEFREE_HOME (default /var/tmp/racefree), so a second `up` takes seconds.
# Debian 12 as root, no systemd: see ../shared/TESTING.md for the facts this relies on.
set -euo pipefail

H=${RACEFREE_HOME:-/var/tmp/racefree}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin

# Ports off the usual defaults; RACEFREE_PORT_OFFSET shifts them all (a second set of
# servers on the same machine, with its own RACEFREE_HOME).
O=${RACEFREE_PORT_OFFSET:-0}
REDIS_PORTS=($((16379 + O)) $((16380 + O)) $((16381 + O)) $((16382 + O)) $((16383 + O)))
PG_PORT=$((15432 + O))
MY_PORT=$((13306 + O))
ZK_PORT=$((12181 + O))
ETCD_PORT=$((12379 + O))
ETCD_PEER_PORT=$((12380 + O))
MONGO_PORT=$((27117 + O))
DYNAMO_PORT=$((18000 + O))

FERRETDB_VERSION=v1.24.2
DYNALITE_VERSION=4.0.0
APT_PACKAGES=(redis-server postgresql mariadb-server zookeeper etcd-server)
ZK_JARS=/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar

SERVERS=(redis-1 redis-2 redis-3 redis-4 redis-5 postgres mariadb zookeeper etcd ferretdb dynalite)

log() { echo "services: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- processes ------------------------------------------------------------------------

# starttime PID: field 22 of /proc/PID/stat, to tell a PID from a recycled one.
starttime() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; set -- $s; echo "${20}"; }

# running PID: true while the process exists and is not a zombie.
running() {
	local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	s=${s##*) }; [[ ${s:0:1} != Z ]]
}

# alive NAME: true when the process `up` started for NAME still runs.
alive() {
	local f=$H/run/$1.pid pid st
	[[ -f $f ]] || return 1
	read -r pid st <"$f" || return 1
	running "$pid" && [[ $(starttime "$pid") == "$st" ]]
}

# spawn NAME CMD...: start CMD detached, log to $H/log/NAME.log, record its PID.
spawn() {
	local name=$1; shift
	setsid "$@" >>"$H/log/$name.log" 2>&1 </dev/null &
	local pid=$!
	echo "$pid $(starttime "$pid")" >"$H/run/$name.pid"
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# ask PORT REQUEST: send REQUEST over TCP and print the reply until the server closes.
ask() {
	timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0; printf "$1" >&3; cat <&3' "$1" "$2" 2>/dev/null || true
}

# ask_line PORT REQUEST: like ask, for servers that keep the connection open.
ask_line() {
	timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$0; printf "$1" >&3; read -r l <&3; echo "$l"' "$1" "$2" 2>/dev/null || true
}

port_of() {
	case $1 in
	redis-*) echo "${REDIS_PORTS[${1#redis-} - 1]}" ;;
	postgres) echo $PG_PORT ;; mariadb) echo $MY_PORT ;; zookeeper) echo $ZK_PORT ;;
	etcd) echo $ETCD_PORT ;; ferretdb) echo $MONGO_PORT ;; dynalite) echo $DYNAMO_PORT ;;
	esac
}

# answers NAME: true when the server really answers its protocol.
answers() {
	local p; p=$(port_of "$1")
	case $1 in
	redis-*) [[ $(ask_line "$p" 'PING\r\n') == +PONG* ]] ;;
	zookeeper) [[ $(ask "$p" 'srvr') == 'Zookeeper version'* ]] ;; # ruok says imok before it serves
	etcd) [[ $(ask "$p" 'GET /health HTTP/1.0\r\n\r\n') == *'"health":"true"'* ]] ;;
	postgres) "$PG_BIN/pg_isready" -q -U postgres -h 127.0.0.1 -p "$p" ;;
	mariadb) mariadb --no-defaults -uroot --socket="$H/run/mariadb/mariadb.sock" -e 'SELECT 1' >/dev/null 2>&1 ;;
	dynalite) [[ $(ask "$p" 'GET / HTTP/1.0\r\n\r\n') == HTTP/* ]] ;;
	*) port_open "$p" ;;
	esac
}

# ---- install --------------------------------------------------------------------------

install_packages() {
	local missing=() p st
	for p in "${APT_PACKAGES[@]}"; do
		st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		[[ $st == installed ]] || missing+=("$p")
	done
	command -v npm >/dev/null || missing+=(npm)
	((${#missing[@]})) || return 0
	log "installing ${missing[*]}"
	# Keep the packages' own init scripts from starting servers on the default ports.
	local policy=/usr/sbin/policy-rc.d ours=
	if [[ ! -e $policy ]]; then printf '#!/bin/sh\nexit 101\n' >$policy; chmod +x $policy; ours=1; fi
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >"$H/log/apt.log" 2>&1 ||
		{ tail -n 30 "$H/log/apt.log" >&2; [[ -z $ours ]] || rm -f $policy; die "apt-get install ${missing[*]} failed"; }
	[[ -z $ours ]] || rm -f $policy
}

# build_ferretdb: FerretDB from the wrapper module scripts/ferretdb, rebuilt when it changes.
build_ferretdb() {
	local src=$ROOT/scripts/ferretdb sum
	sum=$(cat "$src/go.mod" "$src/go.sum" "$src/main.go" | sha256sum | cut -c1-12)
	FERRETDB_BIN=$H/bin/ferretdb-$FERRETDB_VERSION-$sum
	[[ -x $FERRETDB_BIN ]] && return 0
	log "building FerretDB $FERRETDB_VERSION"
	(cd "$src" && go build -o "$FERRETDB_BIN.tmp" .) >"$H/log/ferretdb-build.log" 2>&1 ||
		{ tail -n 30 "$H/log/ferretdb-build.log" >&2; die "building FerretDB failed"; }
	mv "$FERRETDB_BIN.tmp" "$FERRETDB_BIN"
}

install_dynalite() {
	DYNALITE_JS=$H/npm/node_modules/dynalite/cli.js
	grep -qs "\"version\": \"$DYNALITE_VERSION\"" "$H/npm/node_modules/dynalite/package.json" && return 0
	log "installing dynalite $DYNALITE_VERSION"
	mkdir -p "$H/npm"
	npm install --prefix "$H/npm" --no-audit --no-fund --loglevel=error "dynalite@$DYNALITE_VERSION" \
		>"$H/log/npm.log" 2>&1 || { tail -n 30 "$H/log/npm.log" >&2; die "npm install dynalite failed"; }
}

# zk_wrapper: $H/bin/zk-server CFG runs a ZooKeeper server from a zoo.cfg (also used by tests).
zk_wrapper() {
	mkdir -p "$H/conf/zk"
	cat >"$H/conf/zk/log4j.properties" <<-'EOF'
		log4j.rootLogger=WARN, CONSOLE
		log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
		log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
		log4j.appender.CONSOLE.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{1}: %m%n
	EOF
	cat >"$H/bin/zk-server" <<-EOF
		#!/bin/sh
		# zk-server ZOO.CFG: a standalone ZooKeeper server in the foreground.
		exec java -Xmx256m -XX:+UseSerialGC -cp "$H/conf/zk:$ZK_JARS" org.apache.zookeeper.server.quorum.QuorumPeerMain "\$1"
	EOF
	chmod +x "$H/bin/zk-server"
}

# ---- start ----------------------------------------------------------------------------

launch() {
	local name=$1 p; p=$(port_of "$1")
	local d=$H/data/$name
	mkdir -p "$d"
	case $name in
	redis-*)
		spawn "$name" redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no \
			--daemonize no --dir "$d" --maxclients 2000 ;;
	postgres)
		chown postgres: "$d"; chmod 700 "$d"
		mkdir -p "$H/run/postgres"; chown postgres: "$H/run/postgres"
		if [[ ! -f $d/PG_VERSION ]]; then
			setpriv --reuid=postgres --regid=postgres --init-groups \
				"$PG_BIN/initdb" -D "$d" -U postgres --auth=trust -E UTF8 >>"$H/log/$name.log" 2>&1 ||
				fail "$name" "initdb failed"
		fi
		spawn "$name" setpriv --reuid=postgres --regid=postgres --init-groups "$PG_BIN/postgres" -D "$d" \
			-p "$p" -k "$H/run/postgres" -c listen_addresses=127.0.0.1 -c fsync=off \
			-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 ;;
	mariadb)
		mkdir -p "$H/run/mariadb"; chown mysql: "$d" "$H/run/mariadb"
		if [[ ! -d $d/mysql ]]; then
			mariadb-install-db --no-defaults --user=mysql --datadir="$d" >>"$H/log/$name.log" 2>&1 ||
				fail "$name" "mariadb-install-db failed"
		fi
		spawn "$name" mariadbd --no-defaults --user=mysql --datadir="$d" --port="$p" \
			--bind-address=127.0.0.1 --socket="$H/run/mariadb/mariadb.sock" \
			--pid-file="$H/run/mariadb/mariadb.pid" --skip-name-resolve --max-connections=500 \
			--innodb-flush-log-at-trx-commit=2 --innodb-buffer-pool-size=128M ;;
	zookeeper)
		cat >"$H/conf/zk/zoo.cfg" <<-EOF
			tickTime=500
			minSessionTimeout=1000
			maxSessionTimeout=60000
			initLimit=10
			syncLimit=5
			dataDir=$d
			clientPort=$p
			clientPortAddress=127.0.0.1
			maxClientCnxns=0
			forceSync=no
			admin.enableServer=false
			4lw.commands.whitelist=ruok,srvr,stat,mntr
		EOF
		spawn "$name" "$H/bin/zk-server" "$H/conf/zk/zoo.cfg" ;;
	etcd)
		# etcd 3.4 has no switch to skip fsync (PostgreSQL runs with
		# fsync=off, ZooKeeper with forceSync=no): its WAL goes to memory
		# when it can, so lock timings measure etcd and not this disk.
		if [[ -d /dev/shm && -w /dev/shm ]]; then
			d=/dev/shm/racefree-etcd-$p
			mkdir -p "$d"
		fi
		spawn "$name" etcd --name racefree --data-dir "$d" \
			--listen-client-urls "http://127.0.0.1:$p" --advertise-client-urls "http://127.0.0.1:$p" \
			--listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
			--initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
			--initial-cluster "racefree=http://127.0.0.1:$ETCD_PEER_PORT" ;;
	ferretdb)
		spawn "$name" env DO_NOT_TRACK=1 "$FERRETDB_BIN" -listen "127.0.0.1:$p" -sqlite-dir "$d" ;;
	dynalite)
		spawn "$name" node "$ROOT/scripts/dynalite-server.js" "$DYNALITE_JS" --host 127.0.0.1 --port "$p" \
			--createTableMs 0 --deleteTableMs 0 --updateTableMs 0 ;;
	esac
}

fail() { log "ERROR: $1 did not start: $2; last lines of $H/log/$1.log:"; tail -n 25 "$H/log/$1.log" >&2 || true; exit 1; }

# after_start NAME: one-time setup that needs the server up (idempotent).
after_start() {
	case $1 in
	postgres)
		"$PG_BIN/psql" -qAt -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -c \
			"SELECT 1 FROM pg_database WHERE datname = 'racefree'" | grep -q 1 ||
			"$PG_BIN/psql" -q -h 127.0.0.1 -p $PG_PORT -U postgres -d postgres -c 'CREATE DATABASE racefree' ;;
	mariadb)
		mariadb --no-defaults -uroot --socket="$H/run/mariadb/mariadb.sock" -e "
			CREATE DATABASE IF NOT EXISTS racefree;
			CREATE USER IF NOT EXISTS 'racefree'@'%' IDENTIFIED BY 'racefree';
			GRANT ALL PRIVILEGES ON *.* TO 'racefree'@'%' WITH GRANT OPTION;" ;;
	esac
}

install() {
	mkdir -p "$H"/{bin,data,log,run}
	chmod 755 "$H" "$H/data" "$H/run" "$H/log"
	install_packages
	PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
	build_ferretdb
	install_dynalite
	zk_wrapper
}

up() {
	install

	local name started=() t0=$SECONDS
	for name in "${SERVERS[@]}"; do
		if alive "$name"; then continue; fi
		port_open "$(port_of "$name")" && die "$name: port $(port_of "$name") is taken by a process this script did not start"
		: >"$H/log/$name.log"
		launch "$name"
		started+=("$name")
	done
	for name in "${started[@]}"; do
		local deadline=$((SECONDS + 90))
		until answers "$name"; do
			alive "$name" || fail "$name" "it exited"
			((SECONDS < deadline)) || fail "$name" "no answer on port $(port_of "$name") after 90 s"
			sleep 0.1
		done
		after_start "$name"
	done
	log "all ${#SERVERS[@]} servers answer (${#started[@]} started, in $((SECONDS - t0)) s) under $H"
}

# down [NAME...]: stop the named servers (default: all) that `up` started.
down() {
	local name pid st sig names=("$@")
	((${#names[@]})) || names=("${SERVERS[@]}")
	for name in "${names[@]}"; do
		alive "$name" || { rm -f "$H/run/$name.pid"; continue; }
		read -r pid st <"$H/run/$name.pid"
		sig=TERM; [[ $name == postgres ]] && sig=INT # fast shutdown
		kill -s $sig "$pid" 2>/dev/null || true
	done
	for name in "${names[@]}"; do
		[[ -f $H/run/$name.pid ]] || continue
		read -r pid st <"$H/run/$name.pid"
		for _ in $(seq 100); do running "$pid" || break; sleep 0.1; done
		if running "$pid"; then log "$name (pid $pid) ignored SIGTERM for 10 s: killing it"; kill -9 "$pid" 2>/dev/null || true; fi
		rm -f "$H/run/$name.pid"
		log "stopped $name"
	done
}

env_lines() {
	local addrs=() p
	for p in "${REDIS_PORTS[@]}"; do addrs+=("127.0.0.1:$p"); done
	cat <<-EOF
		export RACEFREE_REDIS_ADDRS='$(IFS=,; echo "${addrs[*]}")'
		export RACEFREE_POSTGRES_DSN='postgres://postgres@127.0.0.1:$PG_PORT/racefree?sslmode=disable'
		export RACEFREE_MYSQL_DSN='racefree:racefree@tcp(127.0.0.1:$MY_PORT)/racefree?parseTime=true'
		export RACEFREE_ZK_SERVERS='127.0.0.1:$ZK_PORT'
		export RACEFREE_ETCD_ENDPOINTS='http://127.0.0.1:$ETCD_PORT'
		export RACEFREE_MONGO_URI='mongodb://127.0.0.1:$MONGO_PORT/'
		export RACEFREE_DYNAMODB_ENDPOINT='http://127.0.0.1:$DYNAMO_PORT'
		export RACEFREE_REDIS_SERVER_BIN='$(command -v redis-server || echo /usr/bin/redis-server)'
		export RACEFREE_ETCD_BIN='$(command -v etcd || echo /usr/bin/etcd)'
		export RACEFREE_ZK_SERVER_BIN='$H/bin/zk-server'
	EOF
}

status() {
	local name pid st
	for name in "${SERVERS[@]}"; do
		if alive "$name"; then
			read -r pid st <"$H/run/$name.pid"
			printf '%-10s 127.0.0.1:%-6s up (pid %s)\n' "$name" "$(port_of "$name")" "$pid"
		else
			printf '%-10s 127.0.0.1:%-6s down\n' "$name" "$(port_of "$name")"
		fi
	done
}

case ${1:-} in
up) up ;;
install) install ;;
down) shift; down "$@" ;;
env) env_lines ;;
status) status ;;
*) echo "usage: $0 up|down|env|status" >&2; exit 2 ;;
esac
