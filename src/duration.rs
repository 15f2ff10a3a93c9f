//! Go's `time.Duration` text form, both ways: the kubelet parses `cacheDuration` with Go's
//! parser, and users write `--timeout` the way they write `defaultCacheDuration`.

use std::time::Duration;

/// Formats a duration as Go's `time.Duration.String()` does (`6h0m0s`, `1m30s`, `0s`,
/// `1.5s`, `250ms`): the kubelet decodes `cacheDuration` with Go's parser.
pub fn format(duration: Duration) -> String {
    let nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".into();
    }
    if nanos < 1_000_000_000 {
        let (unit, per) = match nanos {
            n if n < 1_000 => ("ns", 1),
            n if n < 1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        return format!("{}{unit}", decimal(nanos, per));
    }
    let total_secs = duration.as_secs();
    let (hours, minutes) = (total_secs / 3600, total_secs / 60 % 60);
    let seconds = decimal(nanos % 60_000_000_000, 1_000_000_000);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, m) => format!("{m}m{seconds}s"),
        (h, m) => format!("{h}h{m}m{seconds}s"),
    }
}

/// `value / per` with the fraction's trailing zeros dropped, as Go prints it.
fn decimal(value: u128, per: u128) -> String {
    let (whole, fraction) = (value / per, value % per);
    if fraction == 0 {
        return whole.to_string();
    }
    let width = per.ilog10() as usize;
    let digits = format!("{fraction:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Parses Go's duration syntax (`30s`, `1m30s`, `1.5h`, `250ms`) as `time.ParseDuration`
/// does: every number needs a unit, except a lone `0`. Negative durations are refused:
/// nothing here can wait less than nothing.
pub fn parse(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() || number == "." {
            return None;
        }
        let value: f64 = number.parse().ok()?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let nanos_per_unit = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += value * nanos_per_unit;
        rest = after;
    }
    // Far beyond any useful deadline, and within what a Duration holds.
    if !total.is_finite() || total > 1e18 {
        return None;
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(Duration::from_nanos(total.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations_like_go() {
        let table = [
            (Duration::ZERO, "0s"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_secs(59), "59s"),
            (Duration::from_secs(60), "1m0s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_secs(6 * 3600), "6h0m0s"),
            (Duration::from_secs(21_599), "5h59m59s"),
            (Duration::from_secs(100 * 3600 + 1), "100h0m1s"),
            (Duration::from_millis(59_999_500), "16h39m59.5s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_micros(1500), "1.5ms"),
            (Duration::from_nanos(2500), "2.5µs"),
            (Duration::from_nanos(7), "7ns"),
        ];
        for (duration, expected) in table {
            assert_eq!(format(duration), expected);
        }
    }

    #[test]
    fn parses_go_durations() {
        let table = [
            ("30s", Some(Duration::from_secs(30))),
            ("30", None),
            (".5s", Some(Duration::from_millis(500))),
            ("5.s", Some(Duration::from_secs(5))),
            ("0", Some(Duration::ZERO)),
            ("1m30s", Some(Duration::from_secs(90))),
            ("1.5h", Some(Duration::from_secs(5400))),
            ("250ms", Some(Duration::from_millis(250))),
            ("6h0m0s", Some(Duration::from_secs(21_600))),
            ("2us", Some(Duration::from_micros(2))),
            ("", None),
            ("s", None),
            ("-5s", None),
            ("5", None),
            ("5x", None),
            ("1e3s", None),
            ("..s", None),
            ("99999999999h", None),
        ];
        for (text, expected) in table {
            assert_eq!(parse(text), expected, "{text:?}");
        }
    }

    #[test]
    fn parse_reads_what_format_writes() {
        for secs in [0, 1, 59, 60, 61, 3599, 3600, 21_600, 43_199] {
            let duration = Duration::from_secs(secs);
            assert_eq!(parse(&format(duration)), Some(duration));
        }
    }
}
