#!/usr/bin/env bash
# bench_report.sh - turns the output of tools/bench.sh (sections opened by "# <benchmark>",
# then `name=value unit` lines) into OUT_DIR/report.md: per benchmark a table of every line,
# its ratios against the same run's baseline (the `ratio` lines each benchmark prints, 1.0 =
# as fast as the baseline) as a PNG bar chart with the baseline drawn at 1, and the other
# lines as one bar chart per unit, so each figure stands beside the baseline measured with it.
# Plots are made with gnuplot (Debian's gnuplot-nox). Other lines are ignored.
#
# Usage: tools/bench_report.sh BENCH_OUTPUT.txt OUT_DIR
set -euo pipefail
in=$1
out=$2
mkdir -p "$out"
command -v gnuplot >/dev/null || { echo "bench_report: gnuplot is missing (tools/deps.sh)" >&2; exit 1; }
rm -f "$out"/bench_*.dat "$out"/bench_*.png
report=$out/report.md
# One data file per (section, unit): "name value".
awk -v out="$out" '
    /^# / { sec++; title[sec] = substr($0, 3); next }
    /^[a-z_0-9]+=[0-9.]+( [^ ]+)?$/ {
        if (sec == 0) { sec = 1; title[1] = "benchmark" }
        split($1, kv, "=")
        unit = NF > 1 ? $2 : "count"
        gsub(/[^A-Za-z0-9_]/, "_", unit)
        f = sprintf("%s/bench_%02d_%s.dat", out, sec, unit)
        print kv[1], kv[2] >> f
        close(f)
    }
    END { for (i = 1; i <= sec; i++) print i "\t" title[i] > (out "/sections.tsv") }
' "$in"
plot() { # plot DAT PNG TITLE YLABEL BASELINE(0|1)
    local n
    n=$(wc -l <"$1")
    gnuplot <<GP
set terminal pngcairo size $((560 + n * 60)),420 noenhanced
set output "$2"
set title "$3"
set ylabel "$4"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.7
set xtics rotate by -30 left font ",8"
set grid ytics
set yrange [0:*]
set key off
$([ "$5" = 1 ] && echo 'set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 dt 2 lc rgb "red"
set label "baseline = 1" at graph 0.01, first 1 offset 0,0.7 tc rgb "red"')
plot "$1" using 2:xtic(1) lc rgb "#3b6ea8"
GP
}
{
    echo "# Benchmark report"
    echo
    echo "From \`make bench\` ($(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$(dirname "$0")/.." rev-parse --short HEAD 2>/dev/null || echo "?")). Each benchmark measures its baseline in the same run; a \`ratio\` line is the measurement over that baseline (1.0 = as good as the baseline), drawn against the red line at 1."
    echo
} >"$report"
while IFS=$'\t' read -r i title; do
    sec=$(printf '%02d' "$i")
    files=$(ls "$out"/bench_"$sec"_*.dat 2>/dev/null || true)
    [ -n "$files" ] || continue
    {
        echo "## $title"
        echo
        echo "| name | value | unit |"
        echo "|---|---:|---|"
        for f in $files; do
            unit=${f##*/bench_"$sec"_}
            unit=${unit%.dat}
            awk -v u="$unit" '{ printf "| %s | %s | %s |\n", $1, $2, u }' "$f"
        done
        echo
    } >>"$report"
    for f in $files; do
        unit=${f##*/bench_"$sec"_}
        unit=${unit%.dat}
        png=${f%.dat}.png
        if [ "$unit" = ratio ]; then
            plot "$f" "$png" "${title%% *}: against the baseline" "measurement / baseline" 1
        else
            plot "$f" "$png" "${title%% *}" "$unit" 0
        fi
        echo "![$title ($unit)]($(basename "$png"))" >>"$report"
        echo >>"$report"
    done
done <"$out/sections.tsv"
rm -f "$out"/bench_*.dat "$out/sections.tsv"
echo "bench_report: $report"
