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

/// Why a text is not a duration this program can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Go's `time.ParseDuration` refuses it too (syntax, unit, or beyond ±2562047h47m).
    NotGo,
    /// A valid Go duration below zero: nothing here can wait less than nothing.
    Negative,
}

/// The largest Go duration: `time.Duration` is an `int64` of nanoseconds.
const GO_MAX_NANOS: u64 = i64::MAX.unsigned_abs();

/// Parses Go's duration syntax (`30s`, `1m30s`, `1.5h`, `250ms`, `-1s`) as `time.ParseDuration`
/// does, overflow rules included: every number needs a unit, except a lone `0`. What Go
/// accepts but is negative is `Negative`, not a syntax error.
pub fn parse(text: &str) -> Result<Duration, ParseError> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(ParseError::NotGo);
    }
    let limit = GO_MAX_NANOS + 1;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let whole_len = digits(rest);
        let (whole, after) = rest.split_at(whole_len);
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => after.split_at(digits(after)),
            None => ("", after),
        };
        if whole.is_empty() && fraction.is_empty() {
            return Err(ParseError::NotGo);
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let per_unit: u64 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return Err(ParseError::NotGo),
        };
        let mut value = leading_int(whole)
            .and_then(|v| v.checked_mul(per_unit))
            .filter(|&v| v <= limit)
            .ok_or(ParseError::NotGo)?;
        let (numerator, scale) = leading_fraction(fraction);
        if numerator > 0 {
            // As Go does: a float is nanosecond-accurate here, as the fraction of an hour is
            // at most 3.6e12 ns.
            #[allow(
                clippy::cast_precision_loss,
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss
            )]
            let part = (numerator as f64 * (per_unit as f64 / scale)) as u64;
            value = value
                .checked_add(part)
                .filter(|&v| v <= limit)
                .ok_or(ParseError::NotGo)?;
        }
        total = total
            .checked_add(value)
            .filter(|&v| v <= limit)
            .ok_or(ParseError::NotGo)?;
        rest = after;
    }
    match (negative, total) {
        (_, 0) => Ok(Duration::ZERO),
        (true, _) => Err(ParseError::Negative),
        (false, total) if total > GO_MAX_NANOS => Err(ParseError::NotGo),
        (false, total) => Ok(Duration::from_nanos(total)),
    }
}

/// Go's `leadingInt`: the digits' value, `None` past 2^63.
fn leading_int(digits: &str) -> Option<u64> {
    digits.bytes().try_fold(0u64, |value, digit| {
        value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))
            .filter(|&v| v <= GO_MAX_NANOS + 1)
    })
}

/// Go's `leadingFraction`: the digits as a numerator over `scale`, digits that would
/// overflow ignored.
fn leading_fraction(digits: &str) -> (u64, f64) {
    let mut numerator: u64 = 0;
    let mut scale = 1.0;
    for digit in digits.bytes() {
        match numerator
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit - b'0')))
            .filter(|&v| v <= GO_MAX_NANOS)
        {
            Some(next) => {
                numerator = next;
                scale *= 10.0;
            }
            None => break,
        }
    }
    (numerator, scale)
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
        use ParseError::{Negative, NotGo};
        let max = Duration::from_nanos(GO_MAX_NANOS);
        let table = [
            ("30s", Ok(Duration::from_secs(30))),
            ("30", Err(NotGo)),
            (".5s", Ok(Duration::from_millis(500))),
            ("5.s", Ok(Duration::from_secs(5))),
            ("0", Ok(Duration::ZERO)),
            ("-0", Ok(Duration::ZERO)),
            ("-0s", Ok(Duration::ZERO)),
            ("+5s", Ok(Duration::from_secs(5))),
            ("1m30s", Ok(Duration::from_secs(90))),
            ("1.5h", Ok(Duration::from_secs(5400))),
            ("250ms", Ok(Duration::from_millis(250))),
            ("6h0m0s", Ok(Duration::from_secs(21_600))),
            ("2us", Ok(Duration::from_micros(2))),
            ("1.000000001s", Ok(Duration::from_nanos(1_000_000_001))),
            ("", Err(NotGo)),
            ("-", Err(NotGo)),
            ("+-5s", Err(NotGo)),
            ("s", Err(NotGo)),
            ("5", Err(NotGo)),
            ("5x", Err(NotGo)),
            ("1e3s", Err(NotGo)),
            ("..s", Err(NotGo)),
            (".s", Err(NotGo)),
            // Valid in Go, and below zero.
            ("-5s", Err(Negative)),
            ("-1s", Err(Negative)),
            ("-2562047h47m16.854775808s", Err(Negative)),
            // Valid in Go up to its int64 of nanoseconds; past it Go refuses them too.
            ("2562047h", Ok(Duration::from_secs(2_562_047 * 3600))),
            ("2562047h47m16.854775807s", Ok(max)),
            ("9223372036854775807ns", Ok(max)),
            ("9223372036854775808ns", Err(NotGo)),
            ("2562047h47m16.854775808s", Err(NotGo)),
            ("2562048h", Err(NotGo)),
            ("99999999999h", Err(NotGo)),
            ("99999999999999999999s", Err(NotGo)),
        ];
        for (text, expected) in table {
            assert_eq!(parse(text), expected, "{text:?}");
        }
    }

    #[test]
    fn parse_reads_what_format_writes() {
        for secs in [0, 1, 59, 60, 61, 3599, 3600, 21_600, 43_199] {
            let duration = Duration::from_secs(secs);
            assert_eq!(parse(&format(duration)), Ok(duration));
        }
    }
}
