#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hv_monitor_fuzz::cbsd_netstat(data));
