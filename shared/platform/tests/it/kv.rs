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

#[tokio::test]
async fn tokens_are_shared_out_per_second_up_to_the_limit() {
    let p = platform("tokens", &[]).await.platform;
    let key = p.redis.keys.key(&["rate", &uuid::Uuid::new_v4().to_string()]);
    // Retry if a second boundary falls between the two takes.
    for _ in 0..5 {
        let before: (String, String) = redis::cmd("TIME")
            .query_async(&mut p.redis.conn.clone())
            .await
            .expect("time");
        let first = p.redis.take_tokens(&key, 5, 3).await.expect("take");
        let second = p.redis.take_tokens(&key, 2, 3).await.expect("take");
        let after: (String, String) = redis::cmd("TIME")
            .query_async(&mut p.redis.conn.clone())
            .await
            .expect("time");
        if before.0 == after.0 {
            assert_eq!((first, second), (3, 0), "three granted, none left this second");
            assert_eq!(p.redis.take_tokens(&key, 0, 3).await.expect("take"), 0);
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("never two takes within one second");
}
