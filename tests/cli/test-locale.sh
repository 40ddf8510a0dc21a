#!/bin/sh
# The tool under a locale whose decimal separator is a comma: label files,
# frame tables, JSON, VTT, eval reports and `info` come out byte-identical
# to the C locale's, with '.' in every number (Audacity and earshot's own
# label parser read no other), and labels written there read back there.
#
# The locale is made here, without root: localedef into the test's folder,
# used through LOCPATH.  Debian's `locales` package has the de_DE source;
# without it or localedef the test is skipped.
. "$(dirname "$0")/lib.sh"
: "${EXAMPLE_FIXTURES:?}"

command -v localedef >/dev/null ||
  { echo "localedef (Debian package libc-bin) is missing: skipped"; exit 77; }
[ -r /usr/share/i18n/locales/de_DE ] ||
  { echo "/usr/share/i18n/locales/de_DE (Debian package locales) is" \
      "missing: skipped"; exit 77; }
mkdir loc
# localedef exits 1 after mere warnings: the files are what counts
localedef -i de_DE -f UTF-8 loc/de_DE.UTF-8 >loc/log 2>&1 || true
[ -r loc/de_DE.UTF-8/LC_NUMERIC ] ||
  fail "localedef wrote no locale: $(cat loc/log)"
de () {
  LOCPATH="$WORK/loc" LC_ALL=de_DE.UTF-8 "$@"
}
[ "$(de /usr/bin/printf %.1f 1.5)" = "1,5" ] ||
  fail "the generated locale does not write 1,5"

# tone.wav (2.5 s: silence, a 1 kHz tone from 1 s to 2 s, silence) and its
# hand-built detector tone.earshot
"$EXAMPLE_FIXTURES" "$WORK"
printf '1.000000\t2.000000\ttone\n' >right.txt
printf 'tone.wav\tright.txt\n' >right.tsv

# same NAME COMMAND...: COMMAND prints the same under C and de_DE.UTF-8
same () {
  name=$1
  shift
  LC_ALL=C "$@" >c.out 2>c.err || fail "$name (C): $(cat c.err)"
  de "$@" >de.out 2>de.err || fail "$name (de_DE): $(cat de.err)"
  grep -q '[0-9]\.[0-9]' c.out || fail "$name: no decimal number in: $(cat c.out)"
  cmp -s c.out de.out ||
    fail "$name: differs under de_DE.UTF-8: $(diff c.out de.out | head -4)"
  echo "ok: $name"
}

for f in audacity tsv frames json vtt; do
  same "label -f $f" "$EARSHOT" label -m tone.earshot -f "$f" tone.wav
done
same "eval" "$EARSHOT" eval -m tone.earshot -d right.tsv
same "eval --json" "$EARSHOT" eval -m tone.earshot -d right.tsv --json
same "info" "$EARSHOT" info tone.earshot

# labels written under de_DE are read back under de_DE: a perfect score
de "$EARSHOT" label -m tone.earshot tone.wav >own.txt
printf 'tone.wav\town.txt\n' >own.tsv
de "$EARSHOT" eval -m tone.earshot -d own.tsv --json >own.json 2>err.txt ||
  fail "eval of its own labels under de_DE: $(cat err.txt)"
grep -q '"accuracy": *1[,.}]' own.json ||
  grep -q '"accuracy": *1$' own.json ||
  fail "its own labels under de_DE: $(cat own.json)"
echo "ok: labels written and read under de_DE"
