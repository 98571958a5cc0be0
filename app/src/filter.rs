//! Which vehicles the map shows: a search (a line such as `550` or `M1`, a vehicle id such
//! as `0018/01029`, or part of a destination) and the modes switched on. The same filter
//! decides what is drawn, what a click can pick and what the status counts.

use std::collections::BTreeSet;

use crate::model::{Marker, TransportMode, VehicleId};

/// Modes with their own toggle; the rest ride with buses (U-lines, robot buses, unknown).
pub const TOGGLED_MODES: [TransportMode; 5] = [
    TransportMode::Bus,
    TransportMode::Tram,
    TransportMode::Metro,
    TransportMode::Train,
    TransportMode::Ferry,
];

/// Shortest search that may match inside a destination: "9" must find tram 9, not every
/// destination with a 9 in it.
const MIN_HEADSIGN_QUERY: usize = 3;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// What the rider typed, trimmed; empty for everything.
    query: String,
    /// Modes switched off (an empty set shows every mode).
    hidden_modes: BTreeSet<&'static str>,
}

impl Filter {
    pub fn new(query: &str, hidden_modes: impl IntoIterator<Item = TransportMode>) -> Self {
        Self {
            query: query.trim().to_owned(),
            hidden_modes: hidden_modes.into_iter().map(|mode| toggle_of(mode).as_str()).collect(),
        }
    }

    pub fn query(&self) -> &str {
        &self.query
    }

    /// Whether anything is filtered out.
    pub fn is_active(&self) -> bool {
        !self.query.is_empty() || !self.hidden_modes.is_empty()
    }

    pub fn shows_mode(&self, mode: TransportMode) -> bool {
        !self.hidden_modes.contains(toggle_of(mode).as_str())
    }

    /// The same filter with `mode` switched on or off.
    pub fn toggled(&self, mode: TransportMode) -> Self {
        let mut next = self.clone();
        let key = toggle_of(mode).as_str();
        if !next.hidden_modes.remove(key) {
            next.hidden_modes.insert(key);
        }
        next
    }

    /// The same filter searching for `query`.
    pub fn searching(&self, query: &str) -> Self {
        Self { query: query.trim().to_owned(), ..self.clone() }
    }

    /// Modes switched off, in a stable order (for links).
    pub fn hidden_modes(&self) -> Vec<TransportMode> {
        TOGGLED_MODES.into_iter().filter(|&mode| !self.shows_mode(mode)).collect()
    }

    pub fn matches(&self, marker: &Marker) -> bool {
        if !self.shows_mode(marker.mode) {
            return false;
        }
        let query = self.query.as_str();
        if query.is_empty() {
            return true;
        }
        if let Ok(id) = query.parse::<VehicleId>() {
            return marker.id == id;
        }
        if marker.line.as_deref().is_some_and(|line| line.eq_ignore_ascii_case(query)) {
            return true;
        }
        query.chars().count() >= MIN_HEADSIGN_QUERY
            && marker
                .headsign
                .as_deref()
                .is_some_and(|headsign| headsign.to_lowercase().contains(&query.to_lowercase()))
    }
}

/// The toggle a mode belongs to.
fn toggle_of(mode: TransportMode) -> TransportMode {
    match mode {
        TransportMode::Ubus | TransportMode::Robot | TransportMode::Other => TransportMode::Bus,
        other => other,
    }
}

/// The lines running now, for the search's suggestions: each once, in the order riders
/// read them (numbers by value, then letters: `4`, `9`, `55`, `550`, `M1`).
pub fn lines_now<'a>(markers: impl Iterator<Item = &'a Marker>) -> Vec<String> {
    let lines: BTreeSet<(u32, String)> = markers
        .filter_map(|marker| marker.line.as_deref())
        .map(|line| {
            let digits: String = line.chars().take_while(char::is_ascii_digit).collect();
            (digits.parse().unwrap_or(u32::MAX), line.to_owned())
        })
        .collect();
    lines.into_iter().map(|(_, line)| line).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vehicle(mode: TransportMode, line: &str, headsign: &str) -> Marker {
        Marker {
            id: VehicleId::new(18, 1029).expect("fits"),
            lat: 60.17,
            lon: 24.94,
            mode,
            line: Some(line.to_owned()),
            headsign: Some(headsign.to_owned()),
            heading: None,
            delay_s: None,
            timestamp_ms: 0,
        }
    }

    #[test]
    fn an_empty_filter_shows_everything() {
        let filter = Filter::default();
        assert!(!filter.is_active());
        assert!(filter.matches(&vehicle(TransportMode::Robot, "", "")));
    }

    #[test]
    fn a_line_matches_that_line_only_in_any_case() {
        let m1 = vehicle(TransportMode::Metro, "M1", "Vuosaari");
        let filter = Filter::new("m1", []);
        assert!(filter.matches(&m1));
        assert!(!Filter::new("M", []).matches(&m1));
        assert!(Filter::new("550", []).matches(&vehicle(TransportMode::Bus, "550", "Itäkeskus")));
        assert!(!Filter::new("55", []).matches(&vehicle(TransportMode::Bus, "550", "Itäkeskus")));
    }

    #[test]
    fn a_vehicle_id_matches_that_vehicle_padded_or_not() {
        let bus = vehicle(TransportMode::Bus, "550", "Itäkeskus");
        assert!(Filter::new("0018/01029", []).matches(&bus));
        assert!(Filter::new("18/1029", []).matches(&bus));
        assert!(!Filter::new("0018/01030", []).matches(&bus));
    }

    #[test]
    fn three_letters_or_more_search_destinations_ignoring_case() {
        let bus = vehicle(TransportMode::Bus, "550", "Itäkeskus (M)");
        assert!(Filter::new("itäkes", []).matches(&bus));
        assert!(!Filter::new("it", []).matches(&bus));
        assert!(!Filter::new("9", []).matches(&vehicle(TransportMode::Tram, "7", "Pasila 9")));
    }

    #[test]
    fn switched_off_modes_are_hidden_and_small_bus_kinds_follow_buses() {
        let filter = Filter::default().toggled(TransportMode::Bus);
        assert!(filter.is_active());
        assert!(!filter.matches(&vehicle(TransportMode::Bus, "550", "")));
        assert!(!filter.matches(&vehicle(TransportMode::Ubus, "U", "")));
        assert!(filter.matches(&vehicle(TransportMode::Tram, "9", "")));
        assert_eq!(filter.hidden_modes(), vec![TransportMode::Bus]);
        assert_eq!(filter.toggled(TransportMode::Bus), Filter::default());
    }

    #[test]
    fn suggestions_list_each_line_once_in_riders_order() {
        let fleet = [
            vehicle(TransportMode::Metro, "M1", ""),
            vehicle(TransportMode::Bus, "550", ""),
            vehicle(TransportMode::Tram, "9", ""),
            vehicle(TransportMode::Bus, "55", ""),
            vehicle(TransportMode::Tram, "9", ""),
        ];
        assert_eq!(lines_now(fleet.iter()), ["9", "55", "550", "M1"]);
    }
}
