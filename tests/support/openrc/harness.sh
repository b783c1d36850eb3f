# Runs contrib/openrc/init.d/larder's start logic outside OpenRC, for
# tests/it/contrib/openrc.rs: OpenRC's helpers as no-ops or recorders, then
# conf.d ($CONF_D, then the test's $OVERRIDES, as a local conf.d) and the
# script sourced as openrc-run does, then start_pre and start. Without a
# start() of the script's own, what OpenRC's default start() does for a
# command_background service (openrc-run(8)): start-stop-daemon with
# command, pidfile, command_user and the logs, command_args evaluated.
ebegin() { :; }
eend() { return "${1:-0}"; }
einfo() { :; }
ewarn() { echo "ewarn: $*" >&2; }
eerror() { echo "eerror: $*" >&2; }
checkpath() {
	printf '%s\n' "$@" -END- >> "$STUB_DIR/checkpath"
	for last; do :; done
	[ -z "$STUB_RUN" ] || mkdir -p "$last"
}
openrc_default_start() {
	background=
	[ "$command_background" = yes ] && background="--background --make-pidfile"
	eval "start-stop-daemon --start --exec \"\$command\" --pidfile \"\$pidfile\" \
		--user \"\$command_user\" --stdout \"\$output_log\" --stderr \"\$error_log\" \
		$background -- $command_args"
}
RC_SVCNAME=larder
. "$CONF_D"
. "$OVERRIDES"
. "$INIT_D"
start_pre || exit 1
case "$(type start 2>/dev/null)" in
	*function*) start ;;
	*) openrc_default_start ;;
esac
