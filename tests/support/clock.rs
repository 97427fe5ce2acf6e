//! Waits for time itself to pass, where a test needs a later timestamp rather than an event:
//! hv_monitor stamps its samples with the wall clock (a rate needs a later sample than the
//! state's), `etimes` counts whole seconds, and xymond_rrd keeps one update per RRD per second.
//! Everything that waits for something to happen polls for it instead. These loop on the wall
//! clock the stamps come from, so neither a sleep cut short nor a clock stepped back ends the
//! wait early.

use std::time::{Duration, SystemTime};

/// Returns once the wall clock reads at least `at_least` later than at the call.
pub fn wall_clock_passes(at_least: Duration) {
    let start = SystemTime::now();
    loop {
        let elapsed = SystemTime::now()
            .duration_since(start)
            .unwrap_or(Duration::ZERO);
        if elapsed >= at_least {
            return;
        }
        std::thread::sleep((at_least - elapsed).min(Duration::from_millis(100)));
    }
}

/// A later whole second than any timestamp taken before the call, with a margin: xymond_rrd
/// drops a second update of one RRD within the same second, and second-resolution figures
/// (`etimes`) only move with it.
pub fn next_second() {
    wall_clock_passes(Duration::from_millis(1100));
}

/// A later millisecond than any sample taken before the call (the state's `taken_at_ms`), so
/// the next run has an interval to take rates over; a margin makes the rate's time base
/// more than a few clock ticks.
pub fn next_sample_time() {
    wall_clock_passes(Duration::from_millis(50));
}
