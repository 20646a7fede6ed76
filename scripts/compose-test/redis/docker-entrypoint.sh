#!/bin/sh
# Entrypoint of the redis stand-in, written to behave as the official
# image's: flags or a .conf file as the first argument mean
# "redis-server ..."; as root, /data is given to the redis user and the
# server runs as redis; protected mode is off unless the arguments turn it
# on (the official image compiles that default in; Debian's binary does
# not, so it is passed first, where any later argument overrides it).
set -e
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi
if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
	find . \! -user redis -exec chown redis '{}' +
	exec setpriv --reuid redis --regid redis --init-groups "$0" "$@"
fi
case "$1 ${2:-}" in
'redis-server -v' | 'redis-server --version' | 'redis-server -h' | 'redis-server --help') ;;
'redis-server '*)
	shift
	if [ "${1%.conf}" != "$1" ]; then
		conf=$1
		shift
		set -- redis-server "$conf" --protected-mode no "$@"
	else
		set -- redis-server --protected-mode no "$@"
	fi
	;;
esac
um=$(umask)
if [ "$um" = '0022' ]; then
	umask 0077
fi
exec "$@"
