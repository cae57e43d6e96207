//! Times and durations in words. Rough where the reader only wants an idea ("5 minutes ago"),
//! precise where they compare runs ("took 3 min 5 s"), and in UTC since a group's members do
//! not share a time zone.

/// "5 minutes", "an hour", ... for "... ago" texts; rough on purpose, as Buildbot's is.
pub fn fuzzy_interval(seconds: i64) -> String {
    let s = seconds.max(0);
    let plural = |n: i64, one: &str, unit: &str| {
        if n == 1 {
            one.to_owned()
        } else {
            format!("{n} {unit}s")
        }
    };
    match s {
        0..=1 => "a moment".to_owned(),
        2..=59 => format!("{s} seconds"),
        60..=3599 => plural(s / 60, "a minute", "minute"),
        3600..=86_399 => plural(s / 3600, "an hour", "hour"),
        86_400..=2_591_999 => plural(s / 86_400, "a day", "day"),
        2_592_000..=31_535_999 => plural(s / 2_592_000, "a month", "month"),
        _ => plural(s / 31_536_000, "a year", "year"),
    }
}

/// A precise duration for "took ..." texts: "42 s", "3 min 5 s", "2 h 10 min", "3 d 4 h".
pub fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} d {} h", s / 86_400, s % 86_400 / 3600),
    }
}

/// "2026-11-25 14:03 UTC" from epoch seconds, without a date crate.
pub fn utc_date(epoch: i64) -> String {
    let days = epoch.div_euclid(86_400);
    let secs = epoch.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// ", 5 minutes ago", to follow a result; nothing when the master did not say when.
pub(super) fn ago(at: Option<i64>, now: i64) -> String {
    match at {
        Some(t) => format!(", {} ago", fuzzy_interval(now.saturating_sub(t))),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_and_durations() {
        let secs = [
            0, 1, 5, 59, 60, 119, 120, 3599, 3600, 7200, 86_400, 172_800, 2_592_000, 31_536_000,
            63_072_000,
        ];
        let out: Vec<String> = secs
            .iter()
            .map(|s| format!("{s}: {} / {}", fuzzy_interval(*s), duration(*s)))
            .collect();
        insta::assert_snapshot!(out.join("\n"));
    }

    #[test]
    fn dates() {
        assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_date(1_795_616_759), "2026-11-25 14:25 UTC");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00 UTC");
    }
}
