//! The whole fbench command line, with this crate's strategy registered:
//!
//! ```sh
//! cargo bench --bench frames -- list
//! cargo bench --bench frames -- run --strategy double-buffer,pool --consumers 5 --duration 3s
//! ```

fbench::main!(fbench_custom_strategy::DoubleBuffer);
