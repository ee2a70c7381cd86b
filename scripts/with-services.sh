#!/usr/bin/env bash
# with-services.sh CMD...: run CMD against the real servers, with RACEFREE_REQUIRE=all
# (unless set), so that a missing server fails instead of skipping.
#
# When no RACEFREE_* endpoint is set, it starts the servers with services.sh, exports
# their endpoints, and afterwards stops those it started (also when CMD fails).
# CMD's exit code is preserved.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export RACEFREE_REQUIRE=${RACEFREE_REQUIRE:-all}
if ! env | grep -qE '^RACEFREE_(REDIS_ADDRS|POSTGRES_DSN|MYSQL_DSN|ZK_SERVERS|ETCD_ENDPOINTS|MONGO_URI|DYNAMODB_ENDPOINT)='; then
	# The servers that are down now are the ones this run starts, and stops.
	mapfile -t ours < <(scripts/services.sh status | awk '$3 == "down" { print $1 }')
	if ((${#ours[@]})); then
		trap 'scripts/services.sh down "${ours[@]}"' EXIT
	fi
	scripts/services.sh up
	eval "$(scripts/services.sh env)"
fi
set +e
"$@"
rc=$?
set -e
exit $rc
