//! Redis helpers against a real Redis.

use crate::helpers::platform;

#[tokio::test]
async fn the_rate_limit_refuses_past_the_limit_until_the_window_ends() {
    let p = platform("kv", &[]).await.platform;
    let key = p
        .redis
        .keys
        .key(&["ratelimit", "test", &uuid::Uuid::new_v4().to_string()]);
    for i in 0..3 {
        assert_eq!(p.redis.rate_limit(&key, 3, 60).await.expect("hit"), None, "hit {i}");
    }
    let retry = p.redis.rate_limit(&key, 3, 60).await.expect("hit").expect("limited");
    assert!((1..=60).contains(&retry), "{retry}");
    let other = p
        .redis
        .keys
        .key(&["ratelimit", "test", &uuid::Uuid::new_v4().to_string()]);
    assert_eq!(
        p.redis.rate_limit(&other, 3, 60).await.expect("hit"),
        None,
        "keys are separate"
    );
    // A one-second window lets hits through again once it has passed.
    let short = p
        .redis
        .keys
        .key(&["ratelimit", "test", &uuid::Uuid::new_v4().to_string()]);
    assert_eq!(p.redis.rate_limit(&short, 1, 1).await.expect("hit"), None);
    assert!(p.redis.rate_limit(&short, 1, 1).await.expect("hit").is_some());
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(p.redis.rate_limit(&short, 1, 1).await.expect("hit"), None);
}
