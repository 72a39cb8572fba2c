use chrono::{TimeZone, Utc};

use super::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

fn cron(text: &str, zone: &str) -> Schedule {
    Schedule::parse(text, Some(zone), utc(2020, 1, 1, 0, 0)).unwrap()
}

/// Every slot in `(from, until]`, by repeated `next_after`.
fn slots(s: &Schedule, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut at = from;
    while let Some(next) = s.next_after(at) {
        if next > until {
            break;
        }
        out.push(next);
        at = next;
    }
    out
}

#[test]
fn new_york_spring_forward_runs_a_slot_in_the_skipped_hour_once() {
    // 2026-03-08: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that day.
    let s = cron("30 2 * * *", "America/New_York");
    let got = slots(&s, utc(2026, 3, 7, 12, 0), utc(2026, 3, 9, 12, 0));
    // 03-07 02:30 EST is before the window; 03-08 at the end of the gap (03:00 EDT = 07:00Z);
    // 03-09 02:30 EDT = 06:30Z.
    assert_eq!(got, vec![utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]);
}

#[test]
fn new_york_fall_back_runs_a_slot_in_the_repeated_hour_once() {
    // 2026-11-01: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
    let s = cron("30 1 * * *", "America/New_York");
    let got = slots(&s, utc(2026, 10, 31, 12, 0), utc(2026, 11, 2, 12, 0));
    // 11-01 01:30 EDT = 05:30Z (the first occurrence only), 11-02 01:30 EST = 06:30Z.
    assert_eq!(got, vec![utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]);
    // From inside the second pass of the hour, the first pass is behind: the next is tomorrow.
    assert_eq!(
        s.next_after(utc(2026, 11, 1, 6, 10)),
        Some(utc(2026, 11, 2, 6, 30))
    );
}

#[test]
fn berlin_spring_forward_and_fall_back_run_once() {
    let s = cron("30 2 * * *", "Europe/Berlin");
    // 2026-03-29: 02:00 CET jumps to 03:00 CEST: the slot runs at 03:00 CEST = 01:00Z.
    assert_eq!(
        slots(&s, utc(2026, 3, 28, 12, 0), utc(2026, 3, 30, 12, 0)),
        vec![utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]
    );
    // 2026-10-25: 03:00 CEST falls back to 02:00 CET: 02:30 CEST = 00:30Z only.
    assert_eq!(
        slots(&s, utc(2026, 10, 24, 12, 0), utc(2026, 10, 26, 12, 0)),
        vec![utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]
    );
}

#[test]
fn an_hourly_schedule_never_runs_one_wall_clock_time_twice() {
    for (zone, from, until) in [
        (
            "America/New_York",
            utc(2026, 11, 1, 3, 0),
            utc(2026, 11, 1, 9, 0),
        ),
        (
            "Europe/Berlin",
            utc(2026, 10, 24, 22, 0),
            utc(2026, 10, 25, 4, 0),
        ),
    ] {
        let s = cron("0 * * * *", zone);
        let got = slots(&s, from, until);
        let tz: Tz = zone.parse().unwrap();
        let mut walls: Vec<_> = got
            .iter()
            .map(|t| t.with_timezone(&tz).naive_local())
            .collect();
        let n = walls.len();
        walls.dedup();
        assert_eq!(walls.len(), n, "{zone}: {got:?}");
        // Every slot is an exact hour, strictly increasing, and none is lost but the repeat.
        assert!(got.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(n, 5, "{zone}: {got:?}");
    }
}

#[test]
fn month_ends_and_leap_days() {
    let s = cron("0 0 31 * *", "UTC");
    assert_eq!(
        slots(&s, utc(2026, 1, 31, 0, 0), utc(2026, 6, 1, 0, 0)),
        vec![utc(2026, 3, 31, 0, 0), utc(2026, 5, 31, 0, 0)]
    );
    let s = cron("0 12 29 2 *", "UTC");
    assert_eq!(
        s.next_after(utc(2026, 3, 1, 0, 0)),
        Some(utc(2028, 2, 29, 12, 0))
    );
    let s = cron("0 6 L * *", "Europe/Berlin");
    assert_eq!(
        s.next_after(utc(2028, 2, 2, 0, 0)),
        Some(utc(2028, 2, 29, 5, 0))
    );
}

#[test]
fn a_pattern_that_never_fires_is_refused() {
    let err = Schedule::parse("0 0 30 2 *", None, utc(2026, 1, 1, 0, 0)).unwrap_err();
    assert!(err.to_string().contains("never fires"), "{err}");
}

#[test]
fn bad_patterns_and_zones_are_refused_with_the_reason() {
    let at = utc(2026, 1, 1, 0, 0);
    for bad in [
        "",
        "* * * *",
        "0 0 * * * *",
        "61 * * * *",
        "* 24 * * *",
        "@often",
        "@every",
        "@every 0s",
        "@every 10",
        "@every 5d",
        "@every 367h0m1s9999999999999999999s",
    ] {
        assert!(
            matches!(
                Schedule::parse(bad, None, at),
                Err(ScheduleError::Schedule { .. })
            ),
            "{bad:?}"
        );
    }
    assert_eq!(
        Schedule::parse("@daily", Some("Mars/Olympus"), at).unwrap_err(),
        ScheduleError::TimeZone {
            zone: "Mars/Olympus".into()
        }
    );
}

#[test]
fn durations_are_checked() {
    assert_eq!(parse_duration("90s"), Ok(90));
    assert_eq!(parse_duration("1h30m"), Ok(5400));
    assert_eq!(parse_duration("1s"), Ok(1));
    assert_eq!(parse_duration("8784h"), Ok(MAX_EVERY_SECONDS));
    assert!(parse_duration("8784h1s").is_err());
    assert!(parse_duration("0s").is_err());
    assert!(parse_duration("0h0m0s").is_err());
    assert!(parse_duration(&format!("{}s", u64::MAX)).is_err());
    assert!(parse_duration("s").is_err());
    assert!(parse_duration("1 s").is_err());
}

#[test]
fn every_counts_from_the_anchor_and_stays_sub_minute() {
    let anchor = utc(2026, 1, 1, 0, 0);
    let s = Schedule::parse("@every 10s", Some("Europe/Berlin"), anchor).unwrap();
    let plus = |secs| plus_seconds(anchor, secs).unwrap();
    assert_eq!(s.next_after(anchor), Some(plus(10)));
    assert_eq!(s.next_after(plus(-100)), Some(plus(10)));
    assert_eq!(s.next_after(plus(15)), Some(plus(20)));
    assert_eq!(s.next_after(plus(20)), Some(plus(30)));
    assert_eq!(
        s.due(anchor, plus(65)),
        Some(Due {
            latest: plus(60),
            count: 6
        })
    );
    assert_eq!(s.due(plus(60), plus(65)), None);
    assert_eq!(s.due(plus(60), plus(59)), None);
    // A long outage is counted up to the limit, never enumerated.
    let due = s.due(anchor, plus(10 * 365 * 24 * 3600)).unwrap();
    assert_eq!(due.count, MAX_COUNTED_SLOTS);
    assert_eq!(due.latest, plus(10 * 365 * 24 * 3600));
}

#[test]
fn far_future_times_give_no_slot_and_no_panic() {
    let s = Schedule::parse("@every 1s", None, utc(2026, 1, 1, 0, 0)).unwrap();
    assert_eq!(s.next_after(DateTime::<Utc>::MAX_UTC), None);
    assert_eq!(
        s.due(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC)
            .map(|d| d.count),
        Some(MAX_COUNTED_SLOTS)
    );
    let c = cron("0 0 * * *", "UTC");
    assert_eq!(c.next_after(utc(5001, 1, 1, 0, 0)), None);
    assert_eq!(c.next_after(DateTime::<Utc>::MAX_UTC), None);
}

#[test]
fn a_long_outage_of_a_cron_schedule_finds_the_latest_slot() {
    let s = cron("*/5 * * * *", "UTC");
    let due = s
        .due(utc(2026, 1, 1, 0, 0), utc(2026, 1, 10, 0, 2))
        .unwrap();
    assert_eq!(due.latest, utc(2026, 1, 10, 0, 0));
    assert_eq!(due.count, MAX_COUNTED_SLOTS);
    let due = s
        .due(utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 0, 12))
        .unwrap();
    assert_eq!(
        due,
        Due {
            latest: utc(2026, 1, 1, 0, 10),
            count: 2
        }
    );
}

#[test]
fn nicknames_are_read_in_the_zone() {
    let s = cron("@daily", "Europe/Berlin");
    assert_eq!(
        s.next_after(utc(2026, 7, 1, 12, 0)),
        Some(utc(2026, 7, 1, 22, 0))
    );
    let s = cron("@monthly", "America/New_York");
    assert_eq!(
        s.next_after(utc(2026, 7, 1, 12, 0)),
        Some(utc(2026, 8, 1, 4, 0))
    );
}
