//! Durations given on the command line in seconds (`-t`, `--timeout`).

use std::time::Duration;

/// Shorter than this, a deadline or timeout cannot be met by any real call; it is a typo.
pub const MIN_SECONDS: f64 = 0.1;
/// Longer than this is no longer a timeout for a monitoring run.
pub const MAX_SECONDS: f64 = 3600.0;

/// Parses `5`, `0.5`, `1e1`; refuses what is outside 0.1..=3600 s, NaN and infinity.
pub fn parse_seconds(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (MIN_SECONDS..=MAX_SECONDS).contains(&v) => Ok(Duration::from_secs_f64(v)),
        Ok(v) if v > 0.0 && v < MIN_SECONDS => Err(format!(
            "'{s}' seconds is too short: at least {MIN_SECONDS} s (no call can finish sooner)"
        )),
        _ => Err(format!(
            "'{s}' is not a number of seconds from {MIN_SECONDS} to {MAX_SECONDS}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_fractional_seconds_are_taken() {
        assert_eq!(parse_seconds("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_seconds("0.1"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_seconds("1e1"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_seconds("3600"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn too_short_says_so() {
        for s in ["1e-300", "0.09", "0.0001"] {
            let err = parse_seconds(s).unwrap_err();
            assert!(
                err.contains("too short") && err.contains("0.1"),
                "{s}: {err}"
            );
        }
    }

    #[test]
    fn zero_negative_huge_and_non_numbers_are_refused() {
        for s in [
            "0", "-1", "-0", "3600.5", "1e300", "NaN", "nan", "inf", "-inf", "infinity", "", "5s",
            "0x10",
        ] {
            let err = parse_seconds(s).unwrap_err();
            assert!(err.contains("from 0.1 to 3600"), "{s}: {err}");
        }
    }
}
