// Stands in for a `taltun up` that cannot start (a broken install, a bad kernel): the demo
// must report it and remove everything it made.
console.error("taltun: cannot start (test fixture)");
process.exit(1);
