#!/bin/sh
# Tools/text_order_ld.sh ORDER OUT CC [FLAGS...]: writes OUT, the linker's own default
# script for a link by `CC FLAGS` (ld --verbose) with two changes, so that the code a
# run needs is gathered at the start of the executable's code (Makefile.pre.in, the
# `python3` link; Doc/heap.md, "Start-up RSS"):
#   - inside .text, first: the C runtime's start-up code (_start, frame_dummy), the
#     functions of ORDER (Tools/text_order.txt, one name a line; each function is in
#     its own section, .text.NAME, with -ffunction-sections, and its clones in
#     .text.NAME.SUFFIX) up to its "# tracing on"
#     line, the code taken from libgcc and libc_nonshared, then the rest of ORDER;
#   - .fini (the executable's exit code) right after .init instead of after .text.
# Everything else is the default script. .text stays one output section (Valgrind and
# debuggers read the code's symbols from the section named .text). When the default
# script is not the expected shape (another linker or version), OUT is written empty
# and a warning says so: the link then uses the default layout.
set -eu
order=$1; out=$2; shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'int main(void) { return 0; }\n' > "$tmp/t.c"
fallback() {
    echo "text_order_ld: $1; the executable keeps the default code layout" >&2
    : > "$out"
    exit 0
}
"$@" -Wl,--verbose "$tmp/t.c" -o "$tmp/t" > "$tmp/verbose" 2>/dev/null \
    || fallback "the trial link failed"
sed -n '/^==========/,/^==========/p' "$tmp/verbose" | sed '1d;$d' > "$tmp/default.ld"
[ -s "$tmp/default.ld" ] || fallback "the linker printed no default script"

# The functions, as input-section patterns, in two groups. .text.NAME.* are the
# compiler's clones and parts of NAME (.constprop.0, .part.0); main is in .text.startup.
patterns() { sed -n 's/^[A-Za-z_].*/    *(.text.& .text.&.* .text.startup.&)/p'; }
sed '/^# tracing on/q' "$order" | patterns > "$tmp/off"
sed -n '/^# tracing on/,$p' "$order" | patterns > "$tmp/on"

awk -v off="$tmp/off" -v on="$tmp/on" '
    # The .fini output section: kept aside, written after .init.
    /^  \.fini[ \t]*:/ { infini = 1; nfini++ }
    infini { fini = fini $0 "\n"; if ($0 ~ /^  }/) infini = 0; next }
    { lines[++n] = $0 }
    END {
        if (nfini != 1) exit 3
        for (i = 1; i <= n; i++) {
            line = lines[i]
            if (line ~ /^  \.text[ \t]*:/) intext = 1
            if (intext && line ~ /^    \*\(\.text\.unlikely /) {
                print "    *crt*.o(.text .text.*)"
                while ((getline l < off) > 0) print l
                print "    *libgcc.a:(.text .text.*) *libc_nonshared.a:(.text .text.*)"
                while ((getline l < on) > 0) print l
                intext = 0; placed++
            }
            print line
            if (line ~ /^  \.init[ \t]*:/) ininit = 1
            if (ininit && line ~ /^  }/) { printf "%s", fini; ininit = 0; finiplaced++ }
        }
        if (placed != 1 || finiplaced != 1) exit 3
    }' "$tmp/default.ld" > "$tmp/out.ld" || fallback "the default script is not of the expected shape"
{
    echo "/* Written by Tools/text_order_ld.sh from the linker's default script and"
    echo "   Tools/text_order.txt. */"
    cat "$tmp/out.ld"
} > "$out"
