//! Rows of the `VEHICLE_LATEST` table into [`VehiclePosition`]s, by column *name*: the header
//! of each response says where each column is, so reordering or adding columns in
//! `ksqldb/*.sql` cannot silently shift values into the wrong fields.

use app::model::{TransportMode, VehicleId, VehiclePosition};
use serde_json::Value;

use super::framing::Header;

/// Why a row is not a usable position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("the result has no `{0}` column")]
    MissingColumn(&'static str),
    #[error("the row has {got} values for {expected} columns")]
    Width { got: usize, expected: usize },
    #[error("`{0}` is missing or has the wrong type")]
    BadValue(&'static str),
}

/// Where each column we use sits in a row.
#[derive(Debug, Clone)]
pub struct Columns {
    width: usize,
    id: usize,
    lat: usize,
    lon: usize,
    timestamp: usize,
    mode: Option<usize>,
    line: Option<usize>,
    route: Option<usize>,
    direction: Option<usize>,
    headsign: Option<usize>,
    operator: Option<usize>,
    speed: Option<usize>,
    heading: Option<usize>,
    delay: Option<usize>,
    start_time: Option<usize>,
    next_stop: Option<usize>,
    doors_open: Option<usize>,
    occupancy: Option<usize>,
    location_source: Option<usize>,
}

impl Columns {
    /// Finds the columns in a response header. Names compare case-insensitively, as
    /// ksqlDB upper-cases unquoted identifiers.
    pub fn from_header(header: &Header) -> Result<Self, RowError> {
        let find = |name: &str| {
            header.column_names.iter().position(|column| column.eq_ignore_ascii_case(name))
        };
        let required = |name: &'static str| find(name).ok_or(RowError::MissingColumn(name));
        Ok(Self {
            width: header.column_names.len(),
            id: required("VEHICLE_ID")?,
            lat: required("LAT")?,
            lon: required("LON")?,
            timestamp: required("TIMESTAMP_MS")?,
            mode: find("MODE"),
            line: find("LINE"),
            route: find("ROUTE"),
            direction: find("DIRECTION"),
            headsign: find("HEADSIGN"),
            operator: find("OPERATOR"),
            speed: find("SPEED_MPS"),
            heading: find("HEADING"),
            delay: find("DELAY_S"),
            start_time: find("START_TIME"),
            next_stop: find("NEXT_STOP"),
            doors_open: find("DOORS_OPEN"),
            occupancy: find("OCCUPANCY"),
            location_source: find("LOCATION_SOURCE"),
        })
    }

    /// The position a row describes.
    pub fn position(&self, row: &[Value]) -> Result<VehiclePosition, RowError> {
        if row.len() != self.width {
            return Err(RowError::Width { got: row.len(), expected: self.width });
        }
        let text = |index: Option<usize>| {
            index.and_then(|i| row[i].as_str()).filter(|s| !s.is_empty()).map(str::to_owned)
        };
        let float =
            |index: Option<usize>| index.and_then(|i| row[i].as_f64()).filter(|v| v.is_finite());
        let integer = |index: Option<usize>| index.and_then(|i| row[i].as_i64());

        let id: VehicleId = row[self.id]
            .as_str()
            .and_then(|s| s.parse().ok())
            .ok_or(RowError::BadValue("VEHICLE_ID"))?;
        let lat = float(Some(self.lat)).filter(|v| (-90.0..=90.0).contains(v));
        let lon = float(Some(self.lon)).filter(|v| (-180.0..=180.0).contains(v));
        let timestamp_ms =
            integer(Some(self.timestamp)).ok_or(RowError::BadValue("TIMESTAMP_MS"))?;
        Ok(VehiclePosition {
            id,
            mode: text(self.mode).map_or(TransportMode::Other, |m| TransportMode::from_topic(&m)),
            line: text(self.line),
            route: text(self.route),
            direction: integer(self.direction)
                .and_then(|d| u8::try_from(d).ok())
                .filter(|d| matches!(d, 1 | 2)),
            headsign: text(self.headsign),
            operator: integer(self.operator).and_then(|o| u16::try_from(o).ok()),
            lat: lat.ok_or(RowError::BadValue("LAT"))?,
            lon: lon.ok_or(RowError::BadValue("LON"))?,
            speed_mps: float(self.speed).filter(|s| *s >= 0.0),
            heading: integer(self.heading)
                .and_then(|h| u16::try_from(h).ok())
                .filter(|h| *h <= 360),
            delay_s: integer(self.delay).and_then(|d| i32::try_from(d).ok()),
            timestamp_ms,
            start_time: text(self.start_time),
            next_stop: text(self.next_stop),
            doors_open: self.doors_open.and_then(|i| row[i].as_bool()),
            occupancy: integer(self.occupancy)
                .and_then(|o| u8::try_from(o).ok())
                .filter(|o| *o <= 100),
            location_source: text(self.location_source),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header(names: &[&str]) -> Header {
        Header {
            query_id: None,
            column_names: names.iter().map(|n| (*n).to_owned()).collect(),
            column_types: Vec::new(),
        }
    }

    #[test]
    fn columns_are_found_by_name_in_any_order() {
        let columns = Columns::from_header(&header(&[
            "TIMESTAMP_MS",
            "LON",
            "HEADSIGN",
            "VEHICLE_ID",
            "LAT",
            "DELAY_S",
            "MODE",
        ]))
        .expect("required columns present");
        let row = [
            json!(1_795_500_000_000_i64),
            json!(24.94),
            json!("Matinkylä (M)"),
            json!("0018/01029"),
            json!(60.17),
            json!(45),
            json!("metro"),
        ];
        let p = columns.position(&row).expect("valid row");
        assert_eq!(p.id.to_string(), "0018/01029");
        assert_eq!((p.lat, p.lon), (60.17, 24.94));
        assert_eq!(p.headsign.as_deref(), Some("Matinkylä (M)"));
        assert_eq!((p.delay_s, p.mode), (Some(45), TransportMode::Metro));
        assert_eq!(p.speed_mps, None, "absent column");
    }

    #[test]
    fn bad_rows_are_typed_errors() {
        assert_eq!(
            Columns::from_header(&header(&["VEHICLE_ID", "LAT"])).err(),
            Some(RowError::MissingColumn("LON"))
        );
        let columns = Columns::from_header(&header(&["VEHICLE_ID", "LAT", "LON", "TIMESTAMP_MS"]))
            .expect("ok");
        assert_eq!(
            columns.position(&[json!("0018/01029")]).err(),
            Some(RowError::Width { got: 1, expected: 4 })
        );
        assert_eq!(
            columns.position(&[json!("1029"), json!(60.1), json!(24.9), json!(1)]).err(),
            Some(RowError::BadValue("VEHICLE_ID"))
        );
        assert_eq!(
            columns.position(&[json!("0018/01029"), json!(null), json!(24.9), json!(1)]).err(),
            Some(RowError::BadValue("LAT"))
        );
        assert_eq!(
            columns.position(&[json!("0018/01029"), json!(60.1), json!(24.9), json!("soon")]).err(),
            Some(RowError::BadValue("TIMESTAMP_MS"))
        );
    }
}
