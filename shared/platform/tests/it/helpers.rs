use std::collections::HashMap;

use contracts::Event;
use lapin::options::{BasicGetOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{FieldTable, ShortString};
use platform::bus::topology::declare_exchange;
use platform::config::{Settings, Validate, load_from};
use platform::{Platform, db};
use serde::{Deserialize, Serialize};
use sqlx::migrate::Migrator;
use testkit::Isolation;
use testkit::proxy::TcpProxy;

#[derive(Debug, Clone, Deserialize)]
pub struct Own {
    #[allow(dead_code)]
    pub name: String,
}
impl Validate for Own {}

pub static NO_MIGRATIONS: Migrator = Migrator::DEFAULT;

pub struct TestPlatform {
    pub platform: Platform,
    pub settings: Settings<Own>,
}

pub async fn platform(label: &str, extra: &[(&str, &str)]) -> TestPlatform {
    let vars = test_env(label).await;
    connect(vars, extra).await
}

async fn test_env(label: &str) -> HashMap<String, String> {
    platform::telemetry::init_for_tests();
    Isolation::new().service_env("PT", label).await.expect("env")
}

/// Connects with `vars` and `extra` (keys without the `PT__` prefix) laid over them.
async fn connect(mut vars: HashMap<String, String>, extra: &[(&str, &str)]) -> TestPlatform {
    for (k, v) in extra {
        vars.insert(format!("PT__{k}"), (*v).to_owned());
    }
    let settings: Settings<Own> =
        load_from("PT", "[service]\nname = \"platform-test\"\n", &[], &vars).expect("settings");
    let platform = Platform::connect("platform-test", &settings, &NO_MIGRATIONS)
        .await
        .expect("connect");
    TestPlatform { platform, settings }
}

/// A platform whose Postgres, Redis and broker connections each go through a proxy the test
/// controls (see `testkit::proxy`).
pub struct Proxied {
    pub platform: Platform,
    pub settings: Settings<Own>,
    pub postgres: TcpProxy,
    pub redis: TcpProxy,
    pub broker: TcpProxy,
}

pub async fn proxied(label: &str, extra: &[(&str, &str)]) -> Proxied {
    let mut vars = test_env(label).await;
    let postgres = TcpProxy::start("127.0.0.1:5432").await.expect("postgres proxy");
    let redis = TcpProxy::start("127.0.0.1:6379").await.expect("redis proxy");
    let broker = TcpProxy::start("127.0.0.1:5672").await.expect("broker proxy");
    for (key, proxy, target) in [
        ("PT__DATABASE__URL", &postgres, "127.0.0.1:5432"),
        ("PT__REDIS__URL", &redis, "127.0.0.1:6379"),
        ("PT__BUS__URL", &broker, "127.0.0.1:5672"),
    ] {
        let url = proxy.url_through(&vars[key], target);
        vars.insert(key.to_owned(), url);
    }
    let TestPlatform { platform, settings } = connect(vars, extra).await;
    Proxied {
        platform,
        settings,
        postgres,
        redis,
        broker,
    }
}

/// A test event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ping {
    pub n: u32,
}

impl Event for Ping {
    const TYPE: &'static str = "test.ping";
    const VERSION: u32 = 1;
}

/// A queue of the test's own, bound to the exchange with `pattern`.
pub async fn tap(p: &Platform, pattern: &str) -> (lapin::Channel, String) {
    let ch = p.bus.channel().await.expect("channel");
    declare_exchange(&ch, p.bus.exchange(), p.bus.settings().ephemeral)
        .await
        .expect("exchange");
    let q = ch
        .queue_declare(
            ShortString::from(""),
            QueueDeclareOptions {
                exclusive: true,
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .expect("queue");
    let name = q.name().as_str().to_owned();
    ch.queue_bind(
        ShortString::from(name.as_str()),
        ShortString::from(p.bus.exchange()),
        ShortString::from(pattern),
        QueueBindOptions::default(),
        FieldTable::default(),
    )
    .await
    .expect("bind");
    (ch, name)
}

/// Takes one message from `queue`, waiting up to `secs`.
pub async fn take(ch: &lapin::Channel, queue: &str, secs: u64) -> Option<lapin::message::BasicGetMessage> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let got = ch
            .basic_get(ShortString::from(queue), BasicGetOptions { no_ack: true })
            .await
            .expect("basic_get");
        if got.is_some() || std::time::Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

pub async fn count(pool: &sqlx::PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.expect("count")
}

#[allow(dead_code)]
pub type Tx = db::Tx;
