//! A recorded HFP message with its event time moved to now (`publish --retime`,
//! `--replay-retime`), so that a replayed (and looped) recording looks live downstream:
//! the map keeps the newest position per vehicle by event time, and would take a second
//! pass of the same recording for stale repeats. Only `tst` and `tsi` change; every other
//! field passes through as its original JSON text.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

/// The payload `{"<EVENT>":{...}}` with `tst` and `tsi` set to `now_ms`, or `None` when it
/// is not of that shape (the caller then sends it unchanged).
pub fn retime(payload: &[u8], now_ms: i64) -> Option<Vec<u8>> {
    let mut envelope: BTreeMap<&str, BTreeMap<&str, Box<RawValue>>> =
        serde_json::from_slice(payload).ok()?;
    if envelope.len() != 1 {
        return None;
    }
    let fields = envelope.values_mut().next()?;
    let tst = serde_json::to_string(&crate::clock::hfp_timestamp(now_ms)).ok()?;
    fields.insert("tst", RawValue::from_string(tst).ok()?);
    fields.insert("tsi", RawValue::from_string(now_ms.div_euclid(1_000).to_string()).ok()?);
    serde_json::to_vec(&envelope).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hfp;

    const TOPIC: &str = "/hfp/v2/journey/ongoing/vp/bus/0018/01029/5520/1/Martinlaakso/17:35/4150208/5/60;24/28/65/93";
    const PAYLOAD: &str = r#"{"VP":{"desi":"520","dir":"1","oper":6,"veh":1029,"tst":"2024-02-13T16:32:59.931Z","tsi":1707841979,"spd":null,"hdg":null,"lat":60.269247,"long":24.853777,"acc":null,"dl":-232,"odo":25030,"drst":0,"oday":"2024-02-13","jrn":632,"line":1110,"start":"17:35","loc":"ODO","stop":4150208,"route":"5520","occu":0}}"#;

    #[test]
    fn a_retimed_message_parses_to_the_same_position_at_the_new_time() {
        let now_ms = 1_795_500_000_123;
        let retimed = retime(PAYLOAD.as_bytes(), now_ms).expect("an HFP payload");
        let before = hfp::parse(TOPIC, PAYLOAD.as_bytes()).expect("valid").position();
        let after = hfp::parse(TOPIC, &retimed).expect("still valid").position();
        let (mut before, after) = (before.expect("a position"), after.expect("a position"));
        assert_eq!(after.timestamp_ms, now_ms);
        before.timestamp_ms = now_ms;
        assert_eq!(before, after, "nothing but the time changed");
        let text = String::from_utf8(retimed).expect("UTF-8");
        assert!(text.contains(r#""tsi":1795500000"#), "{text}");
        assert!(text.contains(r#""lat":60.269247"#), "numbers keep their text: {text}");
    }

    #[test]
    fn what_is_not_an_hfp_payload_is_left_alone() {
        for payload in [&b"not json"[..], b"[]", br#"{"VP":{},"DUE":{}}"#, br#"{"VP":1}"#] {
            assert_eq!(retime(payload, 0), None, "{}", String::from_utf8_lossy(payload));
        }
    }
}
