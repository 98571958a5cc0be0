//! Every SQL text the server sends to ksqlDB. User input reaches SQL only as a
//! [`VehicleId`], whose text form is digits and one slash, and even that is written as a
//! quoted string literal, never spliced in raw.

use app::model::VehicleId;

/// The table the app reads: each vehicle's latest position (see `ksqldb/`).
pub const TABLE: &str = "VEHICLE_LATEST";

/// The statements that build the pipeline, applied at start-up when asked. Each is
/// idempotent (`IF NOT EXISTS`).
pub const PIPELINE: &str = concat!(
    include_str!("../../../ksqldb/01_hfp_raw.sql"),
    "\n",
    include_str!("../../../ksqldb/02_vehicle_positions.sql"),
    "\n",
    include_str!("../../../ksqldb/03_vehicle_latest.sql"),
);

/// Every current row of the table (a pull query table scan).
pub fn snapshot() -> String {
    format!("SELECT * FROM {TABLE};")
}

/// Every change of the table from now on (the one push query per server).
pub fn changes() -> String {
    format!("SELECT * FROM {TABLE} EMIT CHANGES;")
}

/// One vehicle by key (a pull query).
pub fn vehicle(id: VehicleId) -> String {
    format!("SELECT * FROM {TABLE} WHERE VEHICLE_ID = {};", string_literal(&id.to_string()))
}

/// A ksqlDB string literal: single quotes, with a quote inside doubled.
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pull_by_key_quotes_the_id_as_a_literal() {
        let id: VehicleId = "18/1029".parse().expect("valid");
        assert_eq!(vehicle(id), "SELECT * FROM VEHICLE_LATEST WHERE VEHICLE_ID = '0018/01029';");
    }

    #[test]
    fn quotes_inside_literals_are_doubled() {
        assert_eq!(string_literal("O'Brien"), "'O''Brien'");
        assert_eq!(string_literal("x' OR '1'='1"), "'x'' OR ''1''=''1'");
    }

    #[test]
    fn every_pipeline_statement_is_idempotent() {
        let code: String = PIPELINE
            .lines()
            .filter(|line| !line.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n");
        let statements: Vec<&str> =
            code.split(';').map(str::trim).filter(|s| !s.is_empty()).collect();
        assert_eq!(statements.len(), 3, "{statements:#?}");
        for statement in statements {
            assert!(statement.starts_with("CREATE "), "{statement}");
            assert!(statement.contains(" IF NOT EXISTS "), "{statement}");
        }
    }
}
