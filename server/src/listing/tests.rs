use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};

use app::model::{DataSource, TransportMode, VehicleId, VehiclePosition};
use async_trait::async_trait;

use super::*;

/// A store that counts its listing queries and fails the first `failures` of them.
struct Counting {
    asked: AtomicUsize,
    failures: usize,
}

impl Counting {
    fn new(failures: usize) -> Self {
        Self { asked: AtomicUsize::new(0), failures }
    }
}

#[async_trait]
impl Backend for Counting {
    async fn vehicle(&self, _: VehicleId) -> Result<Option<VehicleLookup>, BackendError> {
        Ok(None)
    }

    async fn vehicles(&self) -> Result<Vec<VehicleLookup>, BackendError> {
        let asked = self.asked.fetch_add(1, Ordering::SeqCst);
        // Yield, so that concurrent requests really are waiting meanwhile.
        tokio::task::yield_now().await;
        if asked < self.failures {
            return Err(BackendError::unavailable("test store", "down"));
        }
        Ok(vec![VehicleLookup { position: position(asked as u32 + 1), source: DataSource::Memory }])
    }
}

fn position(number: u32) -> VehiclePosition {
    VehiclePosition {
        id: VehicleId::new(22, number).expect("fits"),
        mode: TransportMode::Bus,
        line: Some("550".into()),
        route: None,
        direction: None,
        headsign: None,
        operator: None,
        lat: 60.2,
        lon: 24.9,
        speed_mps: None,
        heading: None,
        delay_s: None,
        timestamp_ms: 1_795_500_000_000,
        start_time: None,
        next_stop: None,
        doors_open: None,
        occupancy: None,
        location_source: None,
    }
}

fn accept(value: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(value).expect("a header"));
    headers
}

async fn body(response: Response) -> Vec<u8> {
    axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("a body").to_vec()
}

#[tokio::test]
async fn concurrent_requests_share_one_fetch_within_the_maximum_age() {
    let store = Counting::new(0);
    let listings = Listings::new(Duration::from_secs(3_600));
    let requests = (0..50).map(|_| listings.get(&store));
    let answers = futures_util::future::join_all(requests).await;
    assert_eq!(store.asked.load(Ordering::SeqCst), 1);
    let first = answers[0].as_ref().expect("a listing");
    for answer in &answers {
        assert!(Arc::ptr_eq(first, answer.as_ref().expect("a listing")), "the same bytes");
    }
}

#[tokio::test]
async fn an_expired_listing_is_fetched_again() {
    let store = Counting::new(0);
    let listings = Listings::new(Duration::ZERO);
    let first = listings.get(&store).await.expect("a listing");
    let second = listings.get(&store).await.expect("a listing");
    assert_eq!(store.asked.load(Ordering::SeqCst), 2);
    assert_ne!(first.json, second.json, "the store's newer answer");
}

#[tokio::test]
async fn a_failed_fetch_is_not_cached() {
    let store = Counting::new(1);
    let listings = Listings::new(Duration::from_secs(3_600));
    assert!(listings.get(&store).await.is_err());
    assert!(listings.get(&store).await.is_ok(), "asked again, not served the failure");
    assert_eq!(store.asked.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_listing_is_gzip_when_the_client_takes_it_and_the_same_json_either_way() {
    let listing = Listings::new(Duration::from_secs(60)).get(&Counting::new(0)).await.expect("ok");

    let plain = listing.response(&HeaderMap::new());
    assert_eq!(plain.headers().get(header::CONTENT_ENCODING), None);
    assert_eq!(plain.headers()[header::VARY], "accept-encoding");
    let json = body(plain).await;
    let parsed: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
    assert_eq!(parsed["vehicles"][0]["position"]["id"], "0022/00001");

    let zipped = listing.response(&accept("gzip, deflate, br"));
    assert_eq!(zipped.headers()[header::CONTENT_ENCODING], "gzip");
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&body(zipped).await[..])
        .read_to_end(&mut unzipped)
        .expect("valid gzip");
    assert_eq!(unzipped, json);
}

#[test]
fn accept_encoding_is_read_as_rfc_9110_says() {
    for (value, gzip) in [
        ("gzip", true),
        ("GZip;q=0.5", true),
        ("deflate, gzip;q=1.0, br", true),
        ("br", false),
        ("identity", false),
        ("gzip;q=0", false),
        ("gzip; q=0.0, *", false),
        ("*", true),
        ("br, *;q=0.1", true),
        ("*;q=0", false),
        ("", false),
    ] {
        assert_eq!(accepts_gzip(&accept(value)), gzip, "{value:?}");
    }
    assert!(!accepts_gzip(&HeaderMap::new()));
}
