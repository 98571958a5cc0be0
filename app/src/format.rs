//! How values are shown to people: speed in km/h, compass headings, schedule deviation in
//! words, Helsinki wall-clock time and ages. Pure functions, so both sides render the same
//! text and tests can pin it down.

/// `12.5` m/s as `"45 km/h"`.
pub fn speed(speed_mps: Option<f64>) -> String {
    match speed_mps {
        Some(mps) if mps.is_finite() && mps >= 0.0 => format!("{:.0} km/h", mps * 3.6),
        _ => "unknown".to_owned(),
    }
}

/// The operator running the trip, by name where HSL documents it: `"Nobina (22)"`.
pub fn operator(oper: Option<u16>) -> String {
    // From HSL's HFP documentation (operator list, 2025). 6 is how the payload names 18.
    let name = match oper {
        None => return "unknown".to_owned(),
        Some(6 | 18) => "Pohjolan Liikenne",
        Some(12) => "Koiviston Auto",
        Some(17) => "Tammelundin Liikenne",
        Some(20) => "Bus Travel Åbergin Linja",
        Some(21) => "Bus Travel Reissu Ruoti",
        Some(22) => "Nobina",
        Some(30) => "Savonlinja",
        Some(36) => "Nurmijärven Linja",
        Some(40) => "HKL-Raitioliikenne",
        Some(47) => "Taksikuljetus",
        Some(50) => "HKL-Metroliikenne",
        Some(51) => "Korsisaari",
        Some(54) => "V-S Bussipalvelut",
        Some(58) => "Koillisen Liikennepalvelut",
        Some(59) => "Tilausliikenne Nikkanen",
        Some(60) => "Suomenlinnan Liikenne",
        Some(64) => "Taksikuljetus Harri Vuolle",
        Some(89) => "Metropolia",
        Some(90) => "VR",
        Some(130) => "Matkahuolto",
        Some(195) => "Siuntio",
        Some(other) => return format!("operator {other}"),
    };
    format!("{name} ({})", oper.unwrap_or_default())
}

/// `135` as `"135° SE"`.
pub fn heading(degrees: Option<u16>) -> String {
    const POINTS: [&str; 8] = ["N", "NE", "E", "SE", "S", "SW", "W", "NW"];
    match degrees {
        Some(deg) if deg <= 360 => {
            let point = POINTS[((usize::from(deg) * 2 + 45) / 90) % 8];
            format!("{deg}° {point}")
        }
        _ => "unknown".to_owned(),
    }
}

/// Seconds behind schedule as words: `"2 min 5 s late"`, `"40 s early"`, `"on time"`.
pub fn delay(delay_s: Option<i32>) -> String {
    let Some(seconds) = delay_s else {
        return "unknown".to_owned();
    };
    if seconds == 0 {
        return "on time".to_owned();
    }
    let word = if seconds > 0 { "late" } else { "early" };
    format!("{} {word}", duration(i64::from(seconds).unsigned_abs()))
}

/// How long ago `timestamp_ms` was, seen at `now_ms`: `"3 s ago"`, `"2 min 5 s ago"`.
/// A timestamp slightly in the future (clock skew) reads as `"just now"`.
pub fn age(timestamp_ms: i64, now_ms: i64) -> String {
    let elapsed_ms = now_ms.saturating_sub(timestamp_ms);
    if elapsed_ms < 1_000 {
        return "just now".to_owned();
    }
    format!("{} ago", duration(elapsed_ms.unsigned_abs() / 1_000))
}

fn duration(seconds: u64) -> String {
    match (seconds / 3_600, seconds / 60 % 60, seconds % 60) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// Wall-clock time in Helsinki (`"18:32:59"`) for a Unix timestamp in milliseconds.
///
/// Timetables and the people reading them live in Helsinki time, whatever the browser's own
/// zone is. Finland follows EU summer time: UTC+3 from 01:00 UTC on the last Sunday of March
/// to 01:00 UTC on the last Sunday of October, UTC+2 otherwise.
pub fn helsinki_clock(timestamp_ms: i64) -> String {
    let utc_s = timestamp_ms.div_euclid(1_000);
    let (year, _, _) = civil_from_days(utc_s.div_euclid(86_400));
    let summer = last_sunday_0100_utc(year, 3) <= utc_s && utc_s < last_sunday_0100_utc(year, 10);
    let local_s = utc_s + if summer { 3 } else { 2 } * 3_600;
    let of_day = local_s.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", of_day / 3_600, of_day / 60 % 60, of_day % 60)
}

/// Unix seconds of 01:00 UTC on the last Sunday of `month` (March or October: 31 days).
fn last_sunday_0100_utc(year: i64, month: i64) -> i64 {
    let last_day = days_from_civil(year, month, 31);
    // 1970-01-01 was a Thursday: weekday 0 = Sunday gives (days + 4) mod 7.
    let weekday = (last_day + 4).rem_euclid(7);
    (last_day - weekday) * 86_400 + 3_600
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (if month <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_are_shown_in_whole_kilometres_per_hour() {
        assert_eq!(speed(Some(10.0)), "36 km/h");
        assert_eq!(speed(Some(0.0)), "0 km/h");
        assert_eq!(speed(None), "unknown");
        assert_eq!(speed(Some(f64::NAN)), "unknown");
    }

    #[test]
    fn operators_are_named_where_hsl_documents_them() {
        assert_eq!(operator(Some(22)), "Nobina (22)");
        assert_eq!(operator(Some(6)), "Pohjolan Liikenne (6)");
        assert_eq!(operator(Some(999)), "operator 999");
        assert_eq!(operator(None), "unknown");
    }

    #[test]
    fn headings_get_the_nearest_compass_point() {
        assert_eq!(heading(Some(0)), "0° N");
        assert_eq!(heading(Some(135)), "135° SE");
        assert_eq!(heading(Some(359)), "359° N");
        assert_eq!(heading(Some(292)), "292° W");
        assert_eq!(heading(None), "unknown");
    }

    #[test]
    fn delays_read_as_late_early_or_on_time() {
        assert_eq!(delay(Some(125)), "2 min 5 s late");
        assert_eq!(delay(Some(-40)), "40 s early");
        assert_eq!(delay(Some(0)), "on time");
        assert_eq!(delay(Some(120)), "2 min late");
        assert_eq!(delay(None), "unknown");
    }

    #[test]
    fn ages_count_whole_seconds_and_tolerate_clock_skew() {
        assert_eq!(age(1_000, 4_500), "3 s ago");
        assert_eq!(age(0, 3_725_000), "1 h 2 min ago");
        assert_eq!(age(5_000, 4_000), "just now");
    }

    #[test]
    fn helsinki_time_follows_eu_summer_time() {
        // 2024-02-13T16:32:59.931Z is winter: UTC+2 (a fixture message's tst).
        assert_eq!(helsinki_clock(1_707_841_979_931), "18:32:59");
        // 2024-07-01T12:00:00Z is summer: UTC+3.
        assert_eq!(helsinki_clock(1_719_835_200_000), "15:00:00");
        // Summer time 2024 began 2024-03-31T01:00:00Z: one second before and at the switch.
        assert_eq!(helsinki_clock(1_711_846_799_000), "02:59:59");
        assert_eq!(helsinki_clock(1_711_846_800_000), "04:00:00");
        // ...and ended 2024-10-27T01:00:00Z.
        assert_eq!(helsinki_clock(1_729_990_799_000), "03:59:59");
        assert_eq!(helsinki_clock(1_729_990_800_000), "03:00:00");
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-1_000_000, -1, 0, 1, 19_766, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
