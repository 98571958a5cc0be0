//! Redis lookups against a real redis-server.

use app::model::DataSource;
use app::model::VehicleLookup;
use reqwest::StatusCode;
use server::metrics::Stats;
use server::redis_store::{MAX_VALUE_BYTES, RedisStore};
use std::sync::Arc;

use crate::helpers::{TestApp, spawn_app_with};
use crate::redis_server::RedisServer;
use server::metrics::reasons::{LookupFallback, RedisRejection};

const DB: u8 = 1;

pub fn value(lat: f64, timestamp_ms: i64) -> String {
    format!(
        r#"{{"MODE":"bus","LINE":"550","ROUTE":"2550","DIRECTION":1,"HEADSIGN":"Itäkeskus (M)","OPERATOR":22,"VEHICLE_NUMBER":1,"TIMESTAMP_MS":{timestamp_ms},"SPEED_MPS":8.2,"HEADING":95,"LAT":{lat},"LON":24.9,"DELAY_S":12,"ODOMETER":null,"DOORS_OPEN":false,"OCCUPANCY":0,"NEXT_STOP":"1201129","START_TIME":"08:15","LOCATION_SOURCE":"GPS"}}"#
    )
}

async fn spawn_app_with_redis(redis: &RedisServer) -> TestApp {
    let url = redis.url(DB);
    spawn_app_with(move |config| config.redis_url = Some(url)).await
}

#[tokio::test]
async fn a_click_is_answered_from_redis_first() {
    let redis = RedisServer::start();
    redis.command(DB, &["SET", "0022/00001", &value(60.25, 1_795_500_000_000)]);
    let app = spawn_app_with_redis(&redis).await;
    // The in-memory table has an older position of the same vehicle: Redis wins.
    app.publish_position(1, "2026-11-24T06:00:00.000Z", 60.1, 24.9);

    let response = app.lookup("0022/00001").await;
    assert_eq!(response.status(), StatusCode::OK);
    let found: VehicleLookup = response.json().await.expect("a lookup");
    assert_eq!(found.source, DataSource::Redis);
    assert_eq!(found.position.lat, 60.25);
}

#[tokio::test]
async fn a_redis_miss_falls_back_to_the_next_store() {
    let redis = RedisServer::start();
    let app = spawn_app_with_redis(&redis).await;
    app.publish_position(2, "2026-11-24T06:00:00.000Z", 60.1, 24.9);

    let found: VehicleLookup = app.lookup("0022/00002").await.json().await.expect("a lookup");
    assert_eq!(found.source, DataSource::Memory);
    assert_eq!(app.stats.lookup_fallbacks.get(LookupFallback::Miss), 1);
}

#[tokio::test]
async fn listing_skips_the_sinks_offset_keys_and_malformed_values() {
    let redis = RedisServer::start();
    redis.command(DB, &["SET", "0022/00001", &value(60.21, 1)]);
    redis.command(DB, &["SET", "0040/00412", &value(60.22, 1)]);
    redis.command(
        DB,
        &[
            "SET",
            "__kafka.offset.vehicle_latest.0",
            r#"{"topic":"vehicle_latest","partition":0,"offset":4242}"#,
        ],
    );
    redis.command(DB, &["SET", "0012/00007", "60.278461|25.021287|1669603746"]);
    redis.command(DB, &["SET", "not/a-vehicle", &value(60.23, 1)]);
    // Another database is another keyspace.
    redis.command(0, &["SET", "0099/00001", &value(60.24, 1)]);

    let stats = Arc::new(Stats::default());
    let store = RedisStore::new(&redis.url(DB), None, Arc::clone(&stats)).expect("valid URL");
    let found = store.vehicles().await.expect("Redis answers");
    let ids: Vec<String> = found.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(ids, ["0022/00001", "0040/00412"]);
    assert_eq!(stats.redis_values_rejected.total(), 1);
    assert_eq!(stats.redis_keys_skipped.total(), 1, "`not/a-vehicle` matches */* but is no id");
}

#[tokio::test]
async fn keys_of_another_type_or_huge_values_are_rejected_values_not_failed_requests() {
    let redis = RedisServer::start();
    let padded = |bytes: usize| {
        let row = value(60.21, 1);
        format!("{row}{}", " ".repeat(bytes - row.len()))
    };
    redis.command(DB, &["SET", "0022/00001", &value(60.21, 1)]);
    redis.command(DB, &["HSET", "0022/00002", "LAT", "60.2"]);
    redis.command(DB, &["RPUSH", "0022/00003", "60.2"]);
    redis.command(DB, &["SET", "0022/00004", &padded(2 * 1024 * 1024)]);
    // The largest value taken, and one byte more.
    redis.command(DB, &["SET", "0022/00005", &padded(MAX_VALUE_BYTES)]);
    redis.command(DB, &["SET", "0022/00006", &padded(MAX_VALUE_BYTES + 1)]);
    // Redis cannot tell a lookup an empty value from none: it is no value, not a bad one.
    redis.command(DB, &["SET", "0022/00007", ""]);
    let app = spawn_app_with_redis(&redis).await;
    for number in [2, 3, 4, 6, 7] {
        app.publish_position(number, "2026-11-24T06:00:00.000Z", 60.1, 24.9);
    }

    // Each bad key is a miss for Redis: the click is answered by the table, not a 503.
    for id in ["0022/00002", "0022/00003", "0022/00004", "0022/00006", "0022/00007"] {
        let response = app.lookup(id).await;
        assert_eq!(response.status(), StatusCode::OK, "{id}");
        let found: VehicleLookup = response.json().await.expect("a lookup");
        assert_eq!(found.source, DataSource::Memory, "{id}");
    }
    let found: VehicleLookup = app.lookup("0022/00005").await.json().await.expect("a lookup");
    assert_eq!(found.source, DataSource::Redis, "a value at the limit is a row");
    let rejected = |stats: &Stats| {
        let by = &stats.redis_values_rejected;
        (by.get(RedisRejection::NotAString), by.get(RedisRejection::TooLarge), by.total())
    };
    assert_eq!(rejected(&app.stats), (2, 2, 4));

    // A listing reads the same values the same way.
    let stats = Arc::new(Stats::default());
    let store = RedisStore::new(&redis.url(DB), None, Arc::clone(&stats)).expect("valid URL");
    let found = store.vehicles().await.expect("Redis answers");
    let ids: Vec<String> = found.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(ids, ["0022/00001", "0022/00005"]);
    assert_eq!(rejected(&stats), (2, 2, 4));
}

#[tokio::test]
async fn listing_walks_a_keyspace_larger_than_one_scan_batch() {
    let redis = RedisServer::start();
    let mut args = vec!["MSET".to_owned()];
    for number in 1..=1_234 {
        args.push(format!("0022/{number:05}"));
        args.push(value(60.2, i64::from(number)));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    redis.command(DB, &args);
    let store =
        RedisStore::new(&redis.url(DB), None, Arc::new(Stats::default())).expect("valid URL");
    assert_eq!(store.vehicles().await.expect("answers").len(), 1_234);
}

#[tokio::test]
async fn when_redis_dies_lookups_fail_fast_and_recover_when_it_returns() {
    let mut redis = RedisServer::start();
    redis.command(DB, &["SET", "0022/00001", &value(60.21, 1)]);
    let store =
        RedisStore::new(&redis.url(DB), None, Arc::new(Stats::default())).expect("valid URL");
    let id = "0022/00001".parse().expect("id");
    assert!(store.vehicle(id).await.expect("answers").is_some());

    redis.kill();
    let started = std::time::Instant::now();
    assert!(store.vehicle(id).await.is_err());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "fails fast: {:?}",
        started.elapsed()
    );

    redis.restart();
    redis.command(DB, &["SET", "0022/00001", &value(60.22, 2)]);
    // The same store, no restart of ours: the connection manager reconnects.
    let recovered = tokio::time::timeout(crate::helpers::WAIT, async {
        loop {
            if let Ok(found) = store.vehicle(id).await {
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("Redis answers again");
    assert_eq!(recovered.map(|p| p.lat), Some(60.22));
}

#[tokio::test]
async fn with_redis_down_a_click_is_still_answered_by_the_fallback() {
    let mut redis = RedisServer::start();
    let app = spawn_app_with_redis(&redis).await;
    app.publish_position(3, "2026-11-24T06:00:00.000Z", 60.1, 24.9);
    redis.kill();
    let found: VehicleLookup = app.lookup("0022/00003").await.json().await.expect("a lookup");
    assert_eq!(found.source, DataSource::Memory);
}

#[tokio::test]
async fn in_the_full_stack_a_redis_miss_falls_back_to_a_ksqldb_pull_query() {
    let redis = RedisServer::start();
    let fake = crate::fake_ksqldb::FakeKsqldb::start().await;
    fake.upsert(crate::fake_ksqldb::row("0040/00412", 60.17, 24.94, server::clock::now_ms())).await;
    redis.command(DB, &["SET", "0022/00001", &value(60.25, 1)]);
    let (redis_url, ksqldb_url) = (redis.url(DB), fake.url.clone());
    let app = spawn_app_with(move |config| {
        config.redis_url = Some(redis_url);
        config.ksqldb_url = Some(ksqldb_url);
    })
    .await;

    let in_redis: VehicleLookup = app.lookup("0022/00001").await.json().await.expect("lookup");
    assert_eq!(in_redis.source, DataSource::Redis);
    let only_in_ksqldb: VehicleLookup =
        app.lookup("0040/00412").await.json().await.expect("lookup");
    assert_eq!(only_in_ksqldb.source, DataSource::Ksqldb);
    assert!(fake.queries_received().iter().any(|sql| sql.contains("'0040/00412'")));
    assert!(
        !fake.queries_received().iter().any(|sql| sql.contains("'0022/00001'")),
        "Redis answered that one"
    );
}

#[tokio::test]
async fn a_password_protected_redis_answers_with_the_password_and_refuses_without() {
    let redis = RedisServer::start_with_password("s3cret pass");
    redis.command(DB, &["SET", "0022/00001", &value(60.21, 1)]);
    let id = "0022/00001".parse().expect("id");

    let stats = Arc::new(Stats::default());
    let with = RedisStore::new(&redis.url(DB), Some("s3cret pass"), Arc::clone(&stats))
        .expect("valid URL");
    assert!(with.vehicle(id).await.expect("authenticated").is_some());
    let without = RedisStore::new(&redis.url(DB), None, stats).expect("valid URL");
    assert!(without.vehicle(id).await.is_err(), "no password, no data");
}
