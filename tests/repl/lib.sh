# Driving `lacuna repl` in a real terminal: a tmux server of the test's own
# (its socket in $TMP), one session, keys sent and the screen read back.
#   repl_start ARGS...         starts `lacuna repl ARGS` in a 120x50 terminal
#   keys KEY...                tmux send-keys (literal text, Enter, C-c, Up, ...)
#   type_line TEXT             types TEXT, then Enter
#   wait_screen TEXT [SECONDS] waits until the screen shows TEXT (default 10 s); tmux
#                              drops the spaces at the end of a line and shows tabs as spaces
#   screen [-e]                the screen (with -e, its colours as escape codes)
# Sourced after tests/teacher/lib.sh, which sets TMP, the counters and the server.
LACUNA=${LACUNA_BIN:?set LACUNA_BIN to the lacuna executable}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
FIX=${LACUNA_FIXTURES:-$HERE/../fixtures}
if ! command -v tmux >/dev/null 2>&1; then
  echo "FAIL: tmux not found (.ci/deps installs it)" >&2
  exit 1
fi
# Each session has its own tmux server (socket), so that a new one never meets
# the previous server while it exits.
REPL_SEQ=0
SOCK=$TMP/tmux0.sock
tmx() { tmux -S "$SOCK" "$@"; }
_repl_cleanup() { tmx kill-server 2>/dev/null; }
trap '_repl_cleanup; _teacher_cleanup' EXIT
repl_start() {
  local cmd
  printf -v cmd '%q ' "$LACUNA" repl "$@"
  tmx kill-server 2>/dev/null
  REPL_SEQ=$((REPL_SEQ + 1))
  SOCK=$TMP/tmux$REPL_SEQ.sock
  tmx new-session -d -x 120 -y 50 -c "$TMP" \
    "env HOME=$TMP NO_COLOR= TERM=xterm-256color $cmd; echo REPL-EXITED \$?; sleep 600"
}
keys() { tmx send-keys -t 0 "$@"; }
type_line() { tmx send-keys -t 0 -l "$1"; tmx send-keys -t 0 Enter; }
screen() { tmx capture-pane -p -t 0 -S -200 "$@" 2>/dev/null; }
wait_screen() { # TEXT [SECONDS]
  local i n=$(( ${2:-10} * 20 ))
  for ((i = 0; i < n; i++)); do
    case "$(screen)" in *"$1"*) return 0 ;; esac
    sleep 0.05
  done
  return 1
}
expect_screen() { # TEXT DESCRIPTION [SECONDS]
  if wait_screen "$1" "${3:-10}"; then ok; else bad "$2: the screen does not show '$1':"; screen | tail -25 >&2; fi
}
# count_screen TEXT: how many times TEXT is on the screen (and its scrollback)
count_screen() { screen | grep -cF -- "$1"; }
# expect_count TEXT N DESCRIPTION [SECONDS]: waits until TEXT is on the screen N
# times (for a line an earlier command printed too), then checks it is not more.
expect_count() {
  local i n=$(( ${4:-10} * 20 ))
  for ((i = 0; i < n; i++)); do
    [ "$(count_screen "$1")" -ge "$2" ] && break
    sleep 0.05
  done
  expect_eq "$(count_screen "$1")" "$2" "$3"
}
