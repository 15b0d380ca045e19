//! The `fbench` binary: the command line over the built-in strategies.

fbench::main!();
