//! How vehicles are coloured, shared by the canvas that draws them and the legend that
//! explains them: by mode (HSL's own colours) or by delay (classes with stated thresholds,
//! in colours that stay apart for colour-blind riders: Okabe and Ito's palette).

use crate::model::TransportMode;

/// What the colour of a vehicle means.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColourBy {
    #[default]
    Mode,
    Delay,
}

impl ColourBy {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Mode => "mode",
            Self::Delay => "delay",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "mode" => Some(Self::Mode),
            "delay" => Some(Self::Delay),
            _ => None,
        }
    }
}

/// HSL's colours per mode, so the map reads like the city's own signs.
pub fn mode_colour(mode: TransportMode) -> &'static str {
    match mode {
        TransportMode::Bus => "#007ac9",
        TransportMode::Tram => "#00985f",
        TransportMode::Train => "#8c4799",
        TransportMode::Metro => "#ff6319",
        TransportMode::Ferry => "#00b9e4",
        TransportMode::Ubus | TransportMode::Robot | TransportMode::Other => "#666666",
    }
}

/// The modes the legend lists, with their names.
pub const LEGEND_MODES: [(TransportMode, &str); 5] = [
    (TransportMode::Bus, "Bus"),
    (TransportMode::Tram, "Tram"),
    (TransportMode::Metro, "Metro"),
    (TransportMode::Train, "Train"),
    (TransportMode::Ferry, "Ferry"),
];

/// Punctuality as riders judge it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DelayClass {
    /// More than a minute ahead of schedule: riders at the next stop may miss it.
    Early,
    OnTime,
    Late,
    VeryLate,
    /// The vehicle reports no schedule (no trip, or a mode without one).
    Unknown,
}

/// Seconds ahead of schedule from which a vehicle counts as early.
pub const EARLY_S: i32 = 60;
/// Seconds behind schedule from which a vehicle counts as late, and very late.
pub const LATE_S: i32 = 180;
pub const VERY_LATE_S: i32 = 600;

impl DelayClass {
    /// Classifies a delay in seconds (positive: late, negative: early).
    pub fn of(delay_s: Option<i32>) -> Self {
        match delay_s {
            None => Self::Unknown,
            Some(d) if d < -EARLY_S => Self::Early,
            Some(d) if d < LATE_S => Self::OnTime,
            Some(d) if d < VERY_LATE_S => Self::Late,
            Some(_) => Self::VeryLate,
        }
    }

    pub fn colour(&self) -> &'static str {
        match self {
            Self::Early => "#cc79a7",
            Self::OnTime => "#009e73",
            Self::Late => "#e69f00",
            Self::VeryLate => "#d55e00",
            Self::Unknown => "#8a8f94",
        }
    }

    /// The legend's words, thresholds included.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Early => "Early (over 1 min)",
            Self::OnTime => "On time (1 min early to 3 min late)",
            Self::Late => "Late (3-10 min)",
            Self::VeryLate => "Very late (over 10 min)",
            Self::Unknown => "No schedule",
        }
    }

    pub const ALL: [Self; 5] =
        [Self::Early, Self::OnTime, Self::Late, Self::VeryLate, Self::Unknown];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_fall_into_the_classes_the_legend_states() {
        assert_eq!(DelayClass::of(None), DelayClass::Unknown);
        assert_eq!(DelayClass::of(Some(-61)), DelayClass::Early);
        assert_eq!(DelayClass::of(Some(-60)), DelayClass::OnTime);
        assert_eq!(DelayClass::of(Some(0)), DelayClass::OnTime);
        assert_eq!(DelayClass::of(Some(179)), DelayClass::OnTime);
        assert_eq!(DelayClass::of(Some(180)), DelayClass::Late);
        assert_eq!(DelayClass::of(Some(599)), DelayClass::Late);
        assert_eq!(DelayClass::of(Some(600)), DelayClass::VeryLate);
    }

    #[test]
    fn every_delay_class_has_its_own_colour() {
        let colours: std::collections::HashSet<_> =
            DelayClass::ALL.iter().map(DelayClass::colour).collect();
        assert_eq!(colours.len(), DelayClass::ALL.len());
    }

    #[test]
    fn the_colouring_round_trips_through_its_name() {
        for by in [ColourBy::Mode, ColourBy::Delay] {
            assert_eq!(ColourBy::parse(by.as_str()), Some(by));
        }
        assert_eq!(ColourBy::parse("rainbow"), None);
    }
}
