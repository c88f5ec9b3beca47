// Runs every benchmark suite in this folder, in order, and prints its table.
console.log("taltun benchmarks: no suite yet");
