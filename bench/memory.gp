# Broker memory against registered peers, from punch-bench --memory-csv.
# gnuplot -e "csv='memory.csv'; png='broker-memory.png'" memory.gp
set terminal pngcairo size 800,500 font ",11"
set output png
set datafile separator ","
set key bottom right
set grid
set title "punch-broker memory against registered peers"
set xlabel "registered peers (millions)"
set ylabel "MiB"
set xrange [0:*]
set yrange [0:*]
plot csv using ($1/1e6):($2/1024) skip 1 with linespoints lw 2 pt 7 title "VmRSS", \
     csv using ($1/1e6):($3/1024) skip 1 with lines lw 1 dt 2 title "VmHWM (peak)", \
     256 with lines lw 1 lc rgb "red" title "target: 1M peers in 256 MiB"
