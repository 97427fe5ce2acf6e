#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hv_monitor_fuzz::guest_info(data));
