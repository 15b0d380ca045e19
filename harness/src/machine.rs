//! Facts about the machine a run happened on, for reports.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    pub cpu_model: String,
    pub logical_cpus: usize,
    pub total_memory_bytes: u64,
    pub os: String,
    pub kernel: String,
    pub hostname: String,
}

impl MachineInfo {
    pub fn detect() -> MachineInfo {
        let mut system = sysinfo::System::new();
        system.refresh_cpu_all();
        system.refresh_memory();
        let cpu_model = system
            .cpus()
            .first()
            .map(|c| c.brand().trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_string());
        MachineInfo {
            cpu_model,
            logical_cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(system.cpus().len()),
            total_memory_bytes: system.total_memory(),
            os: sysinfo::System::long_os_version().unwrap_or_else(|| std::env::consts::OS.into()),
            kernel: sysinfo::System::kernel_version().unwrap_or_else(|| "unknown".into()),
            hostname: sysinfo::System::host_name().unwrap_or_else(|| "unknown".into()),
        }
    }
}

/// Memory the system can give a new allocation now, in bytes.
pub fn available_memory() -> u64 {
    let mut system = sysinfo::System::new();
    system.refresh_memory();
    system.available_memory()
}
