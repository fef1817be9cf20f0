#!/usr/bin/env bash
# make check-layers: every dependency in src/ points down (docs/architecture.md).
#
#   tools/check-layers.sh [BUILD]      BUILD holds libLAYER.a (default build)
#
# The checks, each line of failure naming the file and what it must not use:
#   1. includes: a file in src/LAYER/ includes only "L/x.h" for L in LAYER and the layers
#      below it (unqualified project includes are refused too: they hide the layer);
#   2. links: no archive calls a function that only a layer above it, or beside it, defines
#      (what the includes do not show: a prototype written in the wrong header), and no
#      module of daemon or api calls a function of daemon/supervisor.c (main.c alone does);
#   3. core is pure: its archive calls no libc function outside PURE_LIBC below (no system
#      call but clock reads, no logging, no I/O) and has no writable static data.
# Prints "check-layers: N problems" and exits 1 when there are any, else one line per layer.
set -u
cd "$(dirname "$0")/.."
build=${1:-build}

layers="core os daemon api cli"
below() {
    case $1 in
    core) echo "" ;;
    os) echo "core" ;;
    daemon) echo "os core" ;;
    api) echo "daemon os core" ;;
    cli) echo "os core" ;;
    esac
}

# What core may call: memory, strings, formatting, numbers, time arithmetic, clock reads,
# JSON (jansson), and what the compiler emits for checks and fortified calls.
PURE_LIBC='^(__assert_fail|__ctype_b_loc|__ctype_tolower_loc|__ctype_toupper_loc|__errno_location|__isoc99_sscanf|__libc_current_sigrtmax|__libc_current_sigrtmin|__snprintf_chk|__vsnprintf_chk|__memcpy_chk|__memmove_chk|__memset_chk|__strcpy_chk|__strcat_chk|__stack_chk_fail|__asan_.*|__ubsan_.*|__sanitizer_.*|calloc|clock_gettime|free|gmtime_r|inet_pton|llround|malloc|memchr|memcmp|memcpy|memmove|memrchr|memset|qsort|realloc|snprintf|vsnprintf|strcasecmp|strchr|strcmp|strdup|strerror|strftime|strlen|strncasecmp|strncmp|strndup|strnlen|strrchr|strspn|strcspn|strstr|strtod|strtol|strtoll|strtoul|strtoull|timegm|json_.*)$'

for tool in nm ar objdump; do
    command -v "$tool" >/dev/null || { echo "check-layers: $tool is missing (binutils)"; exit 1; }
done

problems=0
problem() {
    echo "check-layers: $*"
    problems=$((problems + 1))
}

# 1. Includes.
for layer in $layers; do
    allowed=" $layer $(below "$layer") "
    for f in src/"$layer"/*.[ch]; do
        while IFS=: read -r line inc; do
            target=${inc#*\"}
            target=${target%\"*}
            case $target in
            drover/*) continue ;; # the public headers in include/
            */*) l=${target%%/*} ;;
            *)
                problem "$f:$line: #include \"$target\" names no layer: write \"$layer/$target\""
                continue
                ;;
            esac
            if [[ $allowed != *" $l "* ]]; then
                problem "$f:$line: #include \"$target\": $layer may use only $(echo $allowed), not $l"
            fi
        done < <(grep -n '^#include "' "$f" | sed 's/^\([0-9]*\):/\1:/')
    done
done

# 2. Links: an archive's undefined symbols against what each other layer defines.
for layer in $layers; do
    [ -f "$build/lib$layer.a" ] || { problem "$build/lib$layer.a is missing (make check-layers builds it)"; continue; }
    nm -g --defined-only "$build/lib$layer.a" 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u \
        > "$build/.defined-$layer"
done
for layer in $layers; do
    allowed=" $layer $(below "$layer") "
    for other in $layers; do
        [[ $allowed == *" $other "* ]] && continue
        # object:symbol for each call from layer that a forbidden layer defines
        while IFS=' ' read -r obj sym; do
            problem "src/$layer/${obj%.o}.c calls $sym(), which src/$other/ defines: $layer may use only $(echo $allowed)"
        done < <(nm -A -u "$build/lib$layer.a" 2>/dev/null |
            awk '{ split($1, p, ":"); print p[2], $NF }' | sort -u |
            while read -r obj sym; do
                grep -qxF "$sym" "$build/.defined-$other" && ! grep -qxF "$sym" "$build/.defined-$layer" &&
                    echo "$obj $sym"
            done)
    done
done

# 2b. The top of the daemon is called from main.c only: no module calls up into supervisor.c
#     (they publish to the pool's observers instead; daemon/pool.h).
if [ -f "$build/libdaemon.a" ]; then
    sup_defined=$(ar p "$build/libdaemon.a" supervisor.o 2>/dev/null > "$build/.sup.o" &&
        nm -g --defined-only "$build/.sup.o" | awk 'NF == 3 { print $3 }')
    rm -f "$build/.sup.o"
    for layer in daemon api; do
        while IFS=' ' read -r obj sym; do
            [ "$obj" = supervisor.o ] && continue
            grep -qxF "$sym" <<<"$sup_defined" &&
                problem "src/$layer/${obj%.o}.c calls $sym(), in src/daemon/supervisor.c: only main.c calls the top"
        done < <(nm -A -u "$build/lib$layer.a" | awk '{ split($1, p, ":"); print p[2], $NF }' | sort -u)
    done
fi

# 3. core is pure.
if [ -f "$build/libcore.a" ]; then
    while IFS=' ' read -r obj sym; do
        grep -qxF "$sym" "$build/.defined-core" && continue
        [[ $sym =~ $PURE_LIBC ]] && continue
        problem "src/core/${obj%.o}.c calls $sym(): core calls no system interface (move it to os/)"
    done < <(nm -A -u "$build/libcore.a" | awk '{ split($1, p, ":"); print p[2], $NF }' | sort -u)
    for o in $(ar t "$build/libcore.a"); do
        # Writable data: .data and .bss. Tables of pointers land in .data.rel.ro (read-only
        # after relocation), which is fine.
        ar p "$build/libcore.a" "$o" > "$build/.core-object.o"
        # Fields: address, flags (one or more), section, size, name. Writable: .data*, .bss*,
        # and the thread-locals .tdata/.tbss; not .data.rel.ro. Section symbols are skipped.
        objdump -t "$build/.core-object.o" |
            awk 'NF >= 5 && $(NF-2) ~ /^\.t?(data|bss)/ && $(NF-2) !~ /^\.data\.rel\.ro/ && $NF !~ /^\./ { print $NF }' |
            while read -r sym; do
                echo "src/core/${o%.o}.c has writable static data '$sym': core keeps no state between calls"
            done
    done > "$build/.core-globals"
    while IFS= read -r line; do problem "$line"; done < "$build/.core-globals"
    rm -f "$build/.core-object.o" "$build/.core-globals"
fi
rm -f "$build"/.defined-*

if [ "$problems" -gt 0 ]; then
    echo "check-layers: $problems problems"
    exit 1
fi
for layer in $layers; do
    echo "check-layers: $layer: $(ls src/"$layer"/*.c | wc -l) modules, uses only:$(below "$layer" | sed 's/^/ /;s/^ $/ itself/')"
done
echo "check-layers: 0 problems"
